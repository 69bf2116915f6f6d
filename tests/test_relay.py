"""The stop relay: a sequential stop of BackgroundServices handed on by each ending thread.

On the system clock, a run of BackgroundServices whose tokens carry no callbacks is stopped
by the services' own threads, each beginning the next stop as it ends (``_relay``). These tests
hold it to what a sequential stop promises: the order, the one deadline, user code never on
another service's thread, and a service thread that stops the host itself.
"""

from __future__ import annotations

import threading

import threadhost as th
from tests._services import WAIT, IgnoresToken, Recorder, make_builder, stop_within


class Link(th.BackgroundService):
    """Records when it is asked to stop and when its work is done."""

    def __init__(self, label: str, record: Recorder) -> None:
        self.label = label
        self.record = record
        self.entered = threading.Event()

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.entered.set()
        stopping_token.wait()
        self.record(f"{self.label} asked")
        self.record(f"{self.label} done")


class WithCallback(Link):
    """A Link whose stopping token carries a callback, which records the thread it runs on."""

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.register(
            lambda: self.record(f"callback on {threading.current_thread().name}"))
        super().execute(stopping_token)


class StopsHostWhenAsked(Link):
    """Once asked to stop, calls ``Host.stop()`` itself (and keeps the report it gets)."""

    def __init__(self, label: str, record: Recorder) -> None:
        super().__init__(label, record)
        self.host: th.Host | None = None
        self.report: th.ShutdownReport | None = None

    def execute(self, stopping_token: th.CancellationToken) -> None:
        super().execute(stopping_token)
        assert self.host is not None
        self.report = self.host.stop()


def start(builder: th.HostApplicationBuilder, *services: Link | IgnoresToken) -> th.Host:
    host = builder.build()
    host.start()
    for service in services:
        assert service.entered.wait(WAIT)
    return host


def test_sequential_stop_asks_each_service_only_once_the_one_after_it_has_ended() -> None:
    record = Recorder()
    links = [Link(f"L{k}", record) for k in range(1, 21)]
    builder = make_builder(*links, shutdown_timeout=3600)
    builder.add_thread_exit_hook(lambda: record(f"hook {threading.current_thread().name}"))
    host = start(builder, *links)

    report = stop_within(host)

    assert report.clean
    expected: list[str] = []
    for k in range(20, 0, -1):
        thread = "threadhost:Link" if k == 1 else f"threadhost:Link#{k}"
        expected += [f"L{k} asked", f"L{k} done", f"hook {thread}"]
    assert record.snapshot() == expected


def test_a_straggler_met_by_the_relay_is_abandoned_at_the_deadline_and_the_rest_stop() -> None:
    record = Recorder()
    first, last = Link("first", record), Link("last", record)
    straggler = IgnoresToken()
    host = start(make_builder(first, straggler, last, shutdown_timeout=0.3),
                 first, straggler, last)
    try:
        report = stop_within(host)
    finally:
        straggler.release.set()

    assert [s.name for s in report.stragglers] == ["IgnoresToken"]
    assert report.stopped == ("Link#2", "Link")
    assert record.snapshot() == ["last asked", "last done", "first asked", "first done"]


def test_a_callback_on_a_stopping_token_runs_on_the_stop_runner_never_on_a_service_thread(
        ) -> None:
    record = Recorder()
    first, middle, last = Link("first", record), WithCallback("middle", record), Link(
        "last", record)
    host = start(make_builder(first, middle, last, shutdown_timeout=3600), first, middle, last)

    report = stop_within(host)

    assert report.clean
    events = record.snapshot()
    assert "callback on threadhost:stop" in events
    assert [e for e in events if not e.startswith("callback")] == [
        "last asked", "last done", "middle asked", "middle done", "first asked", "first done"]


def test_a_service_whose_work_already_ended_is_passed_at_once() -> None:
    record = Recorder()

    class ReturnsAtOnce(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            record("returned")

    first, last = Link("first", record), Link("last", record)
    early = ReturnsAtOnce()
    host = start(make_builder(first, early, last, shutdown_timeout=3600), first, last)
    assert early.thread is not None
    early.thread.join(WAIT)

    report = stop_within(host)

    assert report.clean
    assert report.stopped == ("Link#2", "ReturnsAtOnce", "Link")
    assert record.snapshot() == ["returned", "last asked", "last done", "first asked",
                                 "first done"]


def test_a_service_that_stops_the_host_when_asked_hands_on_the_stop_and_gets_the_report(
        ) -> None:
    record = Recorder()
    first, last = Link("first", record), Link("last", record)
    middle = StopsHostWhenAsked("middle", record)
    host = start(make_builder(first, middle, last, shutdown_timeout=3600), first, middle, last)
    middle.host = host

    report = stop_within(host)  # would wait out the hour if the stop waited for the middle

    assert report.clean
    assert middle.thread is not None
    middle.thread.join(WAIT)
    assert middle.report is report
    assert record.snapshot() == ["last asked", "last done", "middle asked", "middle done",
                                 "first asked", "first done"]
