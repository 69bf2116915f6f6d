"""The cost of one crash-and-restart cycle, beside starting a fresh thread by hand.

threadhost: a BackgroundService whose ``execute`` raises at once, under
``RestartPolicy(mode=OnFailure, backoff=0)``, restarted N times (the supervisor decides on the
crashed thread, the next run's thread waits for it to end, then runs). Baseline: the same N
cycles by hand with bare ``threading``: a thread whose target raises (caught and counted), then
``join`` and a fresh ``threading.Thread``. Both in the same process, interleaved, REPEAT times;
the medians are printed with their ratio (lower is better).

Run: python benchmarks/bench_restart.py [--cycles 500] [--repeat 7]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import threading
import time

import threadhost as th


class _Crashes(th.BackgroundService):
    def __init__(self, cycles: int, done: threading.Event) -> None:
        self.cycles = cycles
        self.runs = 0
        self.done = done

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.runs += 1
        if self.runs > self.cycles:
            self.done.set()
            stopping_token.wait()
            return
        raise RuntimeError("crash")


def bench_threadhost(cycles: int) -> float:
    done = threading.Event()
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.logging.clear_providers()
    builder.services.add_hosted_service(_Crashes(cycles, done), restart=th.RestartPolicy(
        mode=th.RestartMode.ON_FAILURE, backoff=0, max_restarts=cycles + 1, within=1e9))
    host = builder.build()
    began = time.perf_counter()
    host.start()
    if not done.wait(120):
        raise RuntimeError("the restarts did not finish")
    took = time.perf_counter() - began
    report = host.stop()
    host.close()
    if report.restarts != {"_Crashes": cycles}:
        raise RuntimeError(str(report))
    return took / cycles


def bench_threading(cycles: int) -> float:
    crashes = 0

    def target() -> None:
        nonlocal crashes
        try:
            raise RuntimeError("crash")
        except RuntimeError:
            crashes += 1

    began = time.perf_counter()
    previous: threading.Thread | None = None
    for _ in range(cycles):
        thread = threading.Thread(target=target, daemon=True)
        if previous is not None:
            previous.join()
        thread.start()
        previous = thread
    if previous is not None:
        previous.join()
    took = time.perf_counter() - began
    assert crashes == cycles
    return took / cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("threadhost").setLevel(logging.CRITICAL)
    ours, base = [], []
    for _ in range(args.repeat):
        base.append(bench_threading(args.cycles))
        ours.append(bench_threadhost(args.cycles))
    a, b = statistics.median(ours) * 1e6, statistics.median(base) * 1e6
    print(f"one crash-and-restart cycle: threadhost {a:.1f} us, fresh thread by hand {b:.1f} us,"
          f" ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
