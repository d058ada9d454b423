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


def device_map(fn, xs, *replicated, batch_size: int):
    """``[fn(x, *replicated) for x in xs]`` (over the leading axis of the pytree ``xs``)."""
    devices = jax.devices()
    n_dev = len(devices)

    def local(xs_, *rep):
        return jax.lax.map(lambda x: fn(x, *rep), xs_, batch_size=batch_size)

    if n_dev == 1:
        return local(xs, *replicated)
    lead = jax.tree.leaves(xs)[0].shape[0]
    pad = (-lead) % n_dev
    if pad:
        xs = jax.tree.map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)], axis=0), xs)
    mesh = Mesh(np.array(devices), ("d",))
    sharded = jax.shard_map(
        local, mesh=mesh, in_specs=(P("d"),) + (P(),) * len(replicated), out_specs=P("d"), check_vma=False
    )
    out = sharded(xs, *replicated)
    return jax.tree.map(lambda a: a[:lead], out)
