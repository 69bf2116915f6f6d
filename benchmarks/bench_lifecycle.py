"""Start and stop of N idle BackgroundServices, beside bare threading doing the same work.

For N = 1, 10, 100, 1000:
* start: from ``Host.start()`` until every ``execute`` is running; the baseline creates and
  starts N ``threading.Thread`` (one ``threading.Event`` each) inside the timed region and
  waits until each has entered its target;
* stop: from ``Host.stop()`` until it returns; the baseline sets each event and joins each
  thread one by one, in reverse order.

Both run in the same process, interleaved, REPEAT times; medians are printed with the
ratio threadhost / baseline (lower is better; 1.0 means as fast as bare threads). The host is
built outside the timed region (building is configuration, not lifecycle).

REPEAT is 21 by default: on a shared two-core machine a single start or stop of 1000 threads
is often slowed by a neighbour, and with 7 repeats the ratio of one run moved by +-0.1 from
run to run; with 21 it moves by about +-0.03 (measured: six runs each, same code).

Run: python benchmarks/bench_lifecycle.py [--repeat 21] [--sizes 1,10,100,1000]
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import threading
import time

import threadhost as th


class _Arrivals:
    def __init__(self, expected: int) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._expected = expected
        self.all_in = threading.Event()

    def arrive(self) -> None:
        with self._lock:
            self._count += 1
            if self._count == self._expected:
                self.all_in.set()


class Idle(th.BackgroundService):
    def __init__(self, arrivals: _Arrivals) -> None:
        self.arrivals = arrivals

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.arrivals.arrive()
        stopping_token.wait()


def bench_threadhost(n: int) -> tuple[float, float]:
    arrivals = _Arrivals(n)
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.logging.clear_providers()
    for _ in range(n):
        builder.services.add_hosted_service(Idle(arrivals))
    host = builder.build()
    gc.collect()
    began = time.perf_counter()
    host.start()
    if not arrivals.all_in.wait(60):
        raise RuntimeError("services did not all start")
    start = time.perf_counter() - began
    gc.collect()
    began = time.perf_counter()
    report = host.stop()
    stop = time.perf_counter() - began
    host.close()
    if not report.clean:
        raise RuntimeError(str(report))
    return start, stop


def bench_threading(n: int) -> tuple[float, float]:
    arrivals = _Arrivals(n)

    def target(event: threading.Event) -> None:
        arrivals.arrive()
        event.wait()

    gc.collect()
    began = time.perf_counter()
    events = [threading.Event() for _ in range(n)]
    threads = [threading.Thread(target=target, args=(e,), daemon=True) for e in events]
    for t in threads:
        t.start()
    if not arrivals.all_in.wait(60):
        raise RuntimeError("threads did not all start")
    start = time.perf_counter() - began
    gc.collect()
    began = time.perf_counter()
    for event, thread in zip(reversed(events), reversed(threads), strict=True):
        event.set()
        thread.join()
    stop = time.perf_counter() - began
    return start, stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--sizes", default="1,10,100,1000")
    args = parser.parse_args()
    logging.getLogger("threadhost").setLevel(logging.WARNING)
    print(f"{'N':>5} {'phase':>5} {'threadhost ms':>14} {'threading ms':>13} {'ratio':>6}")
    for n in (int(s) for s in args.sizes.split(",")):
        ours: list[tuple[float, float]] = []
        base: list[tuple[float, float]] = []
        for _ in range(args.repeat):
            base.append(bench_threading(n))
            ours.append(bench_threadhost(n))
        for index, phase in enumerate(("start", "stop")):
            a = statistics.median(r[index] for r in ours) * 1000
            b = statistics.median(r[index] for r in base) * 1000
            print(f"{n:>5} {phase:>5} {a:>14.2f} {b:>13.2f} {a / b:>6.2f}")


if __name__ == "__main__":
    main()
