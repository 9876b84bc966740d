"""``ordered_map``: a function over items in worker threads, results in input order, few in flight.

For work that releases the GIL (image decoding and encoding in Pillow, file reads): the photo importer
and the batch predictor. At most ``2 * workers`` items are started ahead of the one being returned, so
memory stays bounded however many items there are, and stopping early (an exception, Ctrl-C in the
consumer) cancels what has not started.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int = 0) -> Iterator[tuple[T, R]]:
    """``(item, fn(item))`` for each item, in order; ``workers`` 0 runs in this thread, N >= 1 in N threads
    ahead of the consumer. An exception raised by ``fn`` is raised here, at its item."""
    if workers <= 0:
        for it in items:
            yield it, fn(it)
        return
    ex = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ordered_map")
    pending: deque[tuple[T, Future]] = deque()
    try:
        for it in items:
            pending.append((it, ex.submit(fn, it)))
            if len(pending) >= 2 * workers:
                first, fut = pending.popleft()
                yield first, fut.result()
        while pending:
            first, fut = pending.popleft()
            yield first, fut.result()
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
