"""Items per second through BackgroundTaskQueue + QueuedHostedService, beside queue.Queue.

The baseline is the hand-rolled equivalent in the same run: a bounded ``queue.Queue`` and the
same number of threads looping on ``get()``. Each item is a trivial callable that counts
itself; the clock stops when the last item has run. The producer enqueues ITEMS items into a
queue of CAPACITY. Ratio = threadhost / baseline throughput (higher is better; 1.0 is parity).

Run: python benchmarks/bench_queue.py [--items 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import queue
import statistics
import threading
import time
from collections.abc import Callable

import threadhost as th

CAPACITY = 1000


class Counter:
    def __init__(self, target: int) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._target = target
        self.done = threading.Event()

    def __call__(self, token: th.CancellationToken) -> None:
        with self._lock:
            self._count += 1
            if self._count == self._target:
                self.done.set()


def feed(put: Callable[[Counter], object], counter: Counter, items: int) -> float:
    """The timed region of both sides: put ``items`` items, wait until all have run."""
    began = time.perf_counter()
    for _ in range(items):
        put(counter)
    if not counter.done.wait(120):
        raise RuntimeError("items did not all run")
    return time.perf_counter() - began


def bench_threadhost(items: int, workers: int) -> float:
    counter = Counter(items)
    work_queue = th.BackgroundTaskQueue(CAPACITY)
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.services.add_hosted_service(th.QueuedHostedService(work_queue, workers))
    builder.logging.clear_providers()
    host = builder.build()
    host.start()
    took = feed(work_queue.enqueue, counter, items)
    host.stop()
    host.close()
    return items / took


def bench_stdlib(items: int, workers: int) -> float:
    counter = Counter(items)
    work_queue: queue.Queue[Callable[[th.CancellationToken], None] | None] = queue.Queue(
        CAPACITY)
    token = th.CancellationToken.NONE

    def worker() -> None:
        while True:
            item = work_queue.get()
            if item is None:
                return
            try:
                item(token)
            except Exception:
                logging.exception("item failed")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    took = feed(work_queue.put, counter, items)
    for _ in threads:
        work_queue.put(None)
    for thread in threads:
        thread.join()
    return items / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("threadhost").setLevel(logging.WARNING)
    print(f"{'workers':>7} {'threadhost items/s':>19} {'queue.Queue items/s':>20} {'ratio':>6}")
    for workers in (1, 4):
        ours, base = [], []
        for _ in range(args.repeat):
            base.append(bench_stdlib(args.items, workers))
            ours.append(bench_threadhost(args.items, workers))
        a, b = statistics.median(ours), statistics.median(base)
        print(f"{workers:>7} {a:>19,.0f} {b:>20,.0f} {a / b:>6.2f}")


if __name__ == "__main__":
    main()
