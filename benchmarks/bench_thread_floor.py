"""What a little bookkeeping between thread starts costs: the floor under bench_lifecycle.

No threadhost here, only CPython. The baseline is bench_lifecycle's: N ``threading.Thread``
(one ``threading.Event`` each) made first, then started, each target entering its wait. The
other row starts the same threads one by one with a fixed bit of bookkeeping before each
start (a few small objects and calls, as a host does to account for each service). The
bookkeeping is also timed alone, in a tight loop, and the report says how many times its own
cost it adds to the start of N threads (the amplification: between two thread starts the
caches are cold, and the new thread takes the GIL first).

This is why the lifecycle targets of 1.1x-1.25x bare threads are out of reach for a host that
keeps any per-service account: a few microseconds of bookkeeping per thread, measured alone,
cost several times that inside a run of thread starts.

Run: python benchmarks/bench_thread_floor.py [--repeat 11] [--n 1000] [--objects 4]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import threading
import time


class _Record:
    __slots__ = ("lock", "name", "state")

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.state: dict[str, object] = {}


def _bookkeeping(objects: int, index: int) -> list[_Record]:
    return [_Record(f"service#{index}.{k}") for k in range(objects)]


def _run(n: int, objects: int | None) -> float:
    """Seconds from the first thread made until every target waits; None: the baseline."""
    arrived = threading.Semaphore(0)

    def target(event: threading.Event) -> None:
        arrived.release()
        event.wait()

    gc.collect()
    began = time.perf_counter()
    if objects is None:
        events = [threading.Event() for _ in range(n)]
        threads = [threading.Thread(target=target, args=(e,), daemon=True) for e in events]
        for thread in threads:
            thread.start()
    else:
        events, threads, kept = [], [], []
        for index in range(n):
            kept.append(_bookkeeping(objects, index))
            event = threading.Event()
            thread = threading.Thread(target=target, args=(event,), daemon=True)
            events.append(event)
            threads.append(thread)
            thread.start()
    for _ in range(n):
        if not arrived.acquire(timeout=60):
            raise RuntimeError("threads did not all start")
    elapsed = time.perf_counter() - began
    for event, thread in zip(events, threads, strict=True):
        event.set()
        thread.join()
    return elapsed


def _alone(n: int, objects: int) -> float:
    gc.collect()
    began = time.perf_counter()
    kept = [_bookkeeping(objects, index) for index in range(n)]
    elapsed = time.perf_counter() - began
    del kept
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=4)
    args = parser.parse_args()
    base: list[float] = []
    with_work: list[float] = []
    alone: list[float] = []
    for _ in range(args.repeat):
        base.append(_run(args.n, None))
        with_work.append(_run(args.n, args.objects))
        alone.append(_alone(args.n, args.objects))
    b, w, a = (statistics.median(x) * 1000 for x in (base, with_work, alone))
    print(f"start of {args.n} threads, medians of {args.repeat}")
    print(f"bare threads (baseline)                 {b:8.2f} ms")
    print(f"with {args.objects} records made before each start  {w:8.2f} ms   "
          f"ratio {w / b:.2f}")
    print(f"the same records made alone             {a:8.2f} ms   "
          f"({a / args.n * 1000:.1f} us per thread; between thread starts they cost "
          f"{(w - b) / a:.1f}x that)")


if __name__ == "__main__":
    main()
