"""A virtual day of 1-minute pollers under FakeClock(autojump=True), in real seconds.

Three scenarios, each a host run for one virtual day while the test thread polls
``clock.now()`` in a loop, as a user's test would:

* ``token``: a BackgroundService that polls, then waits 60 s on its stopping token;
* ``periodic``: a PeriodicBackgroundService with ``interval = 60``;
* ``queue``: a producer service that puts an item on a ``threadhost.Queue`` every minute and a
  consumer service blocked in ``get()`` (run 200 times: every run must record the same event
  sequence).

Each checks the schedule (1,441 polls exactly 60 s apart) and prints the median real time
beside its baseline, measured in the same run: the same event sequence on bare threads with
no time at all (``threading.Event`` / ``queue.Queue`` hand-offs, nothing waits), so the ratio
is what virtual time costs over running the code flat out. The system clock would take the
day itself (86,400 s).

With ``--profile`` it also prints what the parts of a step cost (register/unregister, the
settle-and-step of a lone waiter, a wake across threads), each beside its stdlib counterpart.

Run: python benchmarks/bench_fakeclock.py [--repeat 5] [--queue-runs 200] [--profile]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import queue
import statistics
import threading
import time
import timeit
from collections.abc import Callable
from datetime import timedelta

import threadhost as th
from threadhost.testing import FakeClock

DAY = 86400.0
POLLS = 1441  # t = 0, 60, ..., 86400
END = DAY + 30  # the stop is requested half a minute after the last poll


class TokenPoller(th.BackgroundService):
    def __init__(self) -> None:
        self.polls: list[float] = []

    def execute(self, stopping_token: th.CancellationToken) -> None:
        clock = stopping_token.clock
        self.polls.append(clock.monotonic())
        while not stopping_token.wait(60):
            self.polls.append(clock.monotonic())


class PeriodicPoller(th.PeriodicBackgroundService):
    interval = 60.0

    def __init__(self) -> None:
        self.polls: list[float] = []

    def run_once(self, stopping_token: th.CancellationToken) -> None:
        self.polls.append(stopping_token.clock.monotonic())


class Producer(th.BackgroundService):
    def __init__(self, items: th.Queue[float], events: list[tuple[str, float, float]]) -> None:
        self.items = items
        self.events = events
        self.polls: list[float] = []

    def execute(self, stopping_token: th.CancellationToken) -> None:
        clock = stopping_token.clock
        while True:
            now = clock.monotonic()
            self.polls.append(now)
            self.events.append(("put", now, now))
            self.items.put(now)
            if stopping_token.wait(60):
                return


class Consumer(th.BackgroundService):
    def __init__(self, items: th.Queue[float], events: list[tuple[str, float, float]]) -> None:
        self.items = items
        self.events = events

    def execute(self, stopping_token: th.CancellationToken) -> None:
        clock = stopping_token.clock
        while True:
            try:
                item = self.items.get(cancellation_token=stopping_token)
            except th.OperationCanceledError:
                return
            self.events.append(("got", item, clock.monotonic()))


def virtual_day(*services: th.HostedService, clock: FakeClock | None = None
                ) -> tuple[float, th.ShutdownReport]:
    """Run a host with ``services`` for a virtual day while this thread polls clock.now()."""
    clock = clock or FakeClock(autojump=True)
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.services.add_instance(th.Clock, clock)
    for service in services:
        builder.services.add_hosted_service(service)
    builder.logging.clear_providers()
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    end = th.CancellationTokenSource(clock)
    end.token.register(lifetime.stop_application)
    # Inside start() (the starting thread holds the clock), so the day begins at t = 0.
    lifetime.application_started.register(lambda: end.cancel_after(END))
    end_at = clock.now() + timedelta(seconds=END)
    began = time.perf_counter()
    host.start()
    while clock.now() < end_at:  # the test thread polls, as a user's test would
        pass
    report = host.stop()
    took = time.perf_counter() - began
    host.close()
    return took, report


def check(polls: list[float], report: th.ShutdownReport) -> None:
    gaps = {b - a for a, b in itertools.pairwise(polls)}
    if not report.clean or len(polls) != POLLS or gaps != {60.0} or polls[0] != 0.0:
        raise RuntimeError(f"wrong schedule: {len(polls)} polls, gaps {gaps}; {report}")


def token_day() -> float:
    poller = TokenPoller()
    took, report = virtual_day(poller)
    check(poller.polls, report)
    return took


def periodic_day() -> float:
    poller = PeriodicPoller()
    took, report = virtual_day(poller)
    check(poller.polls, report)
    return took


def queue_day() -> tuple[float, list[tuple[str, float, float]]]:
    events: list[tuple[str, float, float]] = []
    clock = FakeClock(autojump=True)
    items: th.Queue[float] = th.Queue(clock)
    producer, consumer = Producer(items, events), Consumer(items, events)
    took, report = virtual_day(consumer, producer, clock=clock)
    check(producer.polls, report)
    if [e[0] for e in events[:4]] != ["put", "got", "put", "got"]:
        raise RuntimeError(f"wrong hand-off order: {events[:4]}")
    return took, events


# -- baselines: the same event sequence on bare threads, with no time ----------------------

def bare_poller() -> float:
    """One thread polling POLLS times, each after a wait that returns at once."""
    polls: list[float] = []
    never = threading.Event()

    def run() -> None:
        polls.append(time.monotonic())
        for _ in range(POLLS - 1):
            never.wait(0)
            polls.append(time.monotonic())

    began = time.perf_counter()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return time.perf_counter() - began


def bare_queue() -> float:
    """A producer and a consumer handing POLLS items through queue.Queue, one at a time."""
    items: queue.Queue[float | None] = queue.Queue()
    taken = threading.Semaphore(0)
    events: list[tuple[str, float]] = []

    def produce() -> None:
        for k in range(POLLS):
            events.append(("put", float(k)))
            items.put(float(k))
            taken.acquire()  # the consumer reacts before the next put, as under the clock
        items.put(None)

    def consume() -> None:
        while (item := items.get()) is not None:
            events.append(("got", item))
            taken.release()

    began = time.perf_counter()
    threads = [threading.Thread(target=consume), threading.Thread(target=produce)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def report_line(name: str, runs: list[float], baselines: list[float], limit: float) -> bool:
    real, base = statistics.median(runs), statistics.median(baselines)
    ok = real <= limit
    print(f"{name:<9} {real:.4f} s real (median of {len(runs)}; min {min(runs):.4f}, max "
          f"{max(runs):.4f}) | bare threads, no time: {base:.4f} s | ratio {real / base:.1f}x "
          f"| limit {limit} s: {'ok' if ok else 'OVER'} | speed-up over real time "
          f"{DAY / real:,.0f}x")
    return ok


def measure(scenario: Callable[[], float], baseline: Callable[[], float], repeat: int
            ) -> tuple[list[float], list[float]]:
    runs, baselines = [], []
    for _ in range(repeat):  # interleaved, so both see the same machine load
        runs.append(scenario())
        baselines.append(baseline())
    return runs, baselines


# -- the parts of a step --------------------------------------------------------------------

def per_call(fn: Callable[[], object], number: int = 20000) -> float:
    """Microseconds per call, best of 5."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def two_waking_each_other(side: Callable[[int], None], before: Callable[[threading.Thread],
                          None] = lambda thread: None, rounds: int = 2000) -> float:
    """Microseconds per round of two threads waking each other (two wakes a round)."""
    threads = [threading.Thread(target=side, args=(k,)) for k in (0, 1)]
    for thread in threads:
        before(thread)
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.perf_counter() - began) / rounds * 1e6


def fake_round() -> float:
    clock = FakeClock(autojump=True)

    def side(_: int) -> None:
        try:
            for _ in range(2000):
                clock.wait(None, 1)  # the two deadlines alternate: each step wakes the other
        finally:
            clock.unregister_participant(threading.current_thread())

    return two_waking_each_other(side, clock.register_participant)


def semaphore_round() -> float:
    semaphores = [threading.Semaphore(0), threading.Semaphore(0)]

    def side(k: int) -> None:
        for _ in range(2000):
            semaphores[1 - k].release()
            semaphores[k].acquire()

    return two_waking_each_other(side)


def profile() -> None:
    me = threading.current_thread()
    manual, jumping = FakeClock(), FakeClock(autojump=True)
    other = threading.Thread(target=lambda: None)
    token = th.CancellationTokenSource(jumping).token
    lock = threading.Lock()
    jumping.register_participant(me)  # a lone participant: its wait steps to its own deadline
    lone_wait = per_call(lambda: jumping.wait(token, 60))
    jumping.unregister_participant(me)
    rows = [
        ("register + unregister a thread", per_call(
            lambda: (manual.register_participant(other), manual.unregister_participant(other))),
         "threading.Lock acquire + release", per_call(lambda: (lock.acquire(), lock.release()))),
        ("lone waiter: wait(60) settles, steps, wakes itself", lone_wait,
         "threading.Event().wait(0)", per_call(lambda: threading.Event().wait(0))),
        ("monotonic(), settled", per_call(manual.monotonic),
         "time.monotonic()", per_call(time.monotonic)),
        ("two participants waking each other (a round)", min(fake_round() for _ in range(5)),
         "threading.Semaphore ping-pong", min(semaphore_round() for _ in range(5))),
    ]
    for name, cost, base_name, base in rows:
        print(f"  {name:<52} {cost:6.2f} us | {base_name}: {base:.2f} us | "
              f"ratio {cost / base:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--queue-runs", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="also time the step's parts")
    args = parser.parse_args()
    logging.getLogger("threadhost").setLevel(logging.WARNING)
    if args.profile:
        print("the parts of a step:")
        profile()
    ok = report_line("token", *measure(token_day, bare_poller, args.repeat), limit=0.05)
    ok &= report_line("periodic", *measure(periodic_day, bare_poller, args.repeat), limit=0.05)
    sequences: set[tuple[tuple[str, float, float], ...]] = set()

    def one_queue_day() -> float:
        took, events = queue_day()
        sequences.add(tuple(events))
        return took

    ok &= report_line("queue", *measure(one_queue_day, bare_queue, args.queue_runs), limit=0.1)
    print(f"queue: {len(sequences)} distinct event sequence(s) in {args.queue_runs} runs "
          f"({'identical' if len(sequences) == 1 else 'NOT identical'})")
    ok &= len(sequences) == 1
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
