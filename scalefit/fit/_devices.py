"""Run a per-item computation over a leading axis: chunked ``lax.map`` on each device, sharded
across every visible JAX device (``jax.shard_map`` over a 1-D mesh).  With one device this is
plain chunked ``lax.map``; results do not depend on the device count because each item's
computation is independent."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P


def device_count() -> int:
    return len(jax.devices())


def _uniform_batch(n_items: int, n_dev: int, batch_size: int) -> tuple[int, int]:
    """(items per chunk, padded total): every device runs the same number of equal chunks.

    ``lax.map(batch_size=b)`` over ``n`` items compiles a second copy of the mapped function for
    the remainder when ``b`` does not divide ``n``; equal chunks (at most ``batch_size`` each,
    padded with repeats of the last item) give one compiled copy and little padding."""
    per_dev = -(-n_items // n_dev)
    k = max(1, -(-per_dev // batch_size))
    b = -(-per_dev // k)
    return b, b * k * n_dev


def device_map(fn, xs, *replicated, batch_size: int):
    """``[fn(x, *replicated) for x in xs]`` (over the leading axis of the pytree ``xs``).

    Items are independent; padding items (repeats of the last one) are dropped from the output,
    so results do not depend on the device count or chunking."""
    devices = jax.devices()
    n_dev = len(devices)
    lead = jax.tree.leaves(xs)[0].shape[0]
    b, total = _uniform_batch(lead, n_dev, batch_size)
    pad = total - lead
    if pad:
        xs = jax.tree.map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)], axis=0), xs)

    def local(xs_, *rep):
        return jax.lax.map(lambda x: fn(x, *rep), xs_, batch_size=b)

    if n_dev == 1:
        out = local(xs, *replicated)
    else:
        mesh = Mesh(np.array(devices), ("d",))
        sharded = jax.shard_map(
            local, mesh=mesh, in_specs=(P("d"),) + (P(),) * len(replicated), out_specs=P("d"), check_vma=False
        )
        out = sharded(xs, *replicated)
    if pad:
        out = jax.tree.map(lambda a: a[:lead], out)
    return out
