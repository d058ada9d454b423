"""Independent work items (one per group of a grouped log) on the host's cores.

Each group's fit and forecast is its own compiled computation with its own seed, so groups can
run side by side: JAX releases the interpreter lock while a compiled program runs, and a second
thread keeps the second core busy.  The results do not depend on the number of threads (each
group computes exactly what it computes alone); only the wall time does.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

from .errors import ArgumentError

T = TypeVar("T")
R = TypeVar("R")

#: environment variable capping the threads (1: one group after another)
THREADS_ENV = "SCALEFIT_THREADS"
#: default cap: every thread holds its group's tables and compiled buffers
MAX_DEFAULT_THREADS = 8


def host_workers(tasks: int) -> int:
    """Threads for ``tasks`` independent items: the cores this process may use, at most
    :data:`MAX_DEFAULT_THREADS` (or ``SCALEFIT_THREADS``), at most one per item."""
    raw = os.environ.get(THREADS_ENV)
    if raw is not None and raw.strip():
        try:
            cap = int(raw)
        except ValueError:
            cap = 0
        if cap < 1:
            raise ArgumentError(f"{THREADS_ENV} = {raw!r} is not a positive integer")
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        cap = min(cores, MAX_DEFAULT_THREADS)
    return max(1, min(cap, tasks))


def map_in_threads(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, in order, with up to :func:`host_workers` items at a time.  The
    first failing item (in order) raises its own exception; items not yet started are dropped."""
    items = list(items)
    workers = host_workers(len(items))
    if workers == 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(workers, thread_name_prefix="scalefit") as pool:
        futures = [pool.submit(fn, x) for x in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise
