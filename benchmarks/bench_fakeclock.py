"""A 1-minute poller for one virtual day under FakeClock(autojump=True).

Prints the real seconds it took, beside the baseline: the same poller on the system clock
would take the day itself (86,400 s), so the ratio is the speed-up. Also checks that every one
of the 1,441 polls happened, exactly a minute apart.

Run: python benchmarks/bench_fakeclock.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from datetime import timedelta

import threadhost as th
from threadhost.testing import FakeClock

DAY = 86400.0


class Poller(th.PeriodicBackgroundService):
    interval = 60.0

    def __init__(self) -> None:
        self.polls: list[float] = []

    def run_once(self, stopping_token: th.CancellationToken) -> None:
        self.polls.append(self.clock.monotonic())


def one_day() -> float:
    clock = FakeClock(autojump=True)
    poller = Poller()
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.services.add_instance(th.Clock, clock)
    builder.services.add_hosted_service(poller)
    builder.logging.clear_providers()
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    end = th.CancellationTokenSource(clock)
    end.token.register(lifetime.stop_application)
    lifetime.application_started.register(lambda: end.cancel_after(DAY + 30))
    began = time.perf_counter()
    host.start()
    host.wait_for_shutdown()
    report = host.stop()
    took = time.perf_counter() - began
    host.close()
    if not report.clean or len(poller.polls) != 1441 or {
            b - a for a, b in zip(poller.polls, poller.polls[1:], strict=False)} != {60.0}:
        raise RuntimeError(f"wrong schedule: {len(poller.polls)} polls; {report}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("threadhost").setLevel(logging.WARNING)
    runs = [one_day() for _ in range(args.repeat)]
    real = statistics.median(runs)
    print(f"virtual day, 1-minute poller: {real:.3f} s real (median of {args.repeat}; "
          f"min {min(runs):.3f}, max {max(runs):.3f})")
    print(f"system clock baseline: {DAY:.0f} s ({timedelta(seconds=DAY)}); "
          f"speed-up {DAY / real:,.0f}x")


if __name__ == "__main__":
    main()
