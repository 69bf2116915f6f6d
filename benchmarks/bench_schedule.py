"""Calendar schedules: a virtual year under a FakeClock, and the cost of one next fire time.

* year: a daily 02:30 Europe/Berlin job run for a virtual year (365 runs, both DST days) by
  a host on ``FakeClock(autojump=True)``, in real seconds (the bar: under 0.2 s); the baseline
  is computing the same 365 fire times with ``CronSchedule`` alone, in the same run, so the
  ratio is what the host (threads woken by virtual time) adds to the arithmetic.
* next: one ``CronSchedule.next_after`` call (DST mapping included) against one ``next()`` of
  cronsim alone (naive times, no DST handling) and one ``get_next`` of croniter, each walking
  the same expressions; microseconds per call, and the ratios to ours.

Run: python benchmarks/bench_schedule.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from cronsim import CronSim

import threadhost as th
from threadhost.testing import FakeClock

EXPRESSIONS = ["30 2 * * *", "*/15 * * * *", "0 9 * * MON-FRI", "0 0 L * *", "*/10 * * * * *"]
CALLS = 2000
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 1, 1, tzinfo=UTC)


def year_with_host() -> float:
    clock = FakeClock(START, autojump=True)
    runs: list[datetime] = []
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.services.add_instance(th.Clock, clock)
    builder.logging.clear_providers()
    builder.services.add_schedule(lambda token, fire: runs.append(fire), "30 2 * * *",
                                  timezone="Europe/Berlin", name="nightly")
    host = builder.build()
    began = time.perf_counter()
    with clock.hold(), host:  # no time passes before the sleep (see the schedules page)
        clock.sleep(365 * 86400)
    took = time.perf_counter() - began
    assert len(runs) == 365, len(runs)
    return took


def year_arithmetic() -> float:
    schedule = th.CronSchedule("30 2 * * *", "Europe/Berlin")
    began = time.perf_counter()
    after: datetime | None = START
    for _ in range(365):
        assert after is not None
        after = schedule.next_after(after)
    return time.perf_counter() - began


def per_call_ours(expression: str) -> float:
    schedule = th.CronSchedule(expression, "Europe/Berlin")
    after: datetime | None = START
    began = time.perf_counter()
    for _ in range(CALLS):
        assert after is not None
        after = schedule.next_after(after)
    return (time.perf_counter() - began) / CALLS


def per_call_cronsim(expression: str) -> float:
    walker = CronSim(expression, datetime(2026, 1, 1))
    began = time.perf_counter()
    for _ in range(CALLS):
        next(walker)
    return (time.perf_counter() - began) / CALLS


def per_call_croniter(expression: str) -> float:
    walker = croniter(expression, START.astimezone(BERLIN), second_at_beginning=True)
    began = time.perf_counter()
    for _ in range(CALLS):
        walker.get_next(datetime)
    return (time.perf_counter() - began) / CALLS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    logging.disable(logging.CRITICAL)
    hosted = statistics.median(year_with_host() for _ in range(repeat))
    bare = statistics.median(year_arithmetic() for _ in range(repeat))
    print(f"virtual year, daily job: {hosted:.3f} s real (bar 0.2 s); arithmetic alone "
          f"{bare:.3f} s; ratio {hosted / bare:.1f}x")
    print(f"{'expression':<18} {'ours µs':>9} {'cronsim µs':>11} {'ratio':>6} "
          f"{'croniter µs':>12} {'ratio':>6}")
    for expression in EXPRESSIONS:
        ours = statistics.median(per_call_ours(expression) for _ in range(repeat))
        sim = statistics.median(per_call_cronsim(expression) for _ in range(repeat))
        cit = statistics.median(per_call_croniter(expression) for _ in range(repeat))
        print(f"{expression:<18} {ours * 1e6:>9.1f} {sim * 1e6:>11.1f} {ours / sim:>6.2f} "
              f"{cit * 1e6:>12.1f} {ours / cit:>6.2f}")


if __name__ == "__main__":
    main()
