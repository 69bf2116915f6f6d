"""FakeClock: virtual time that wakes waiting threads, deterministically."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

import threadhost as th
from tests._services import WAIT, IgnoresToken, make_builder
from threadhost.testing import FakeClock, FakeClockStallError

T0 = datetime(2000, 1, 1, tzinfo=UTC)


class Recorder5m(th.PeriodicBackgroundService):
    """Records clock.now() every 5 virtual minutes."""

    interval = 300.0

    def __init__(self) -> None:
        self.times: list[datetime] = []

    def run_once(self, stopping_token: th.CancellationToken) -> None:
        self.times.append(stopping_token.clock.now())


def waiting_thread(clock: FakeClock, timeout: float | None
                   ) -> tuple[th.CancellationTokenSource, list[bool], threading.Thread]:
    cts = th.CancellationTokenSource(clock)
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(cts.token.wait(timeout)))
    thread.start()
    return cts, result, thread


def test_token_wait_sleeps_through_real_time_and_wakes_on_advance() -> None:
    clock = FakeClock()
    _, result, thread = waiting_thread(clock, 300)
    thread.join(0.2)  # real time passes...
    assert thread.is_alive() and result == []  # ...and the virtual wait does not end
    clock.advance(299)
    assert result == []
    clock.advance(1)
    thread.join(WAIT)
    assert result == [False]
    assert clock.monotonic() == 300 and clock.now() == T0 + timedelta(seconds=300)


def test_token_wait_wakes_at_once_on_cancel_without_advance() -> None:
    clock = FakeClock()
    cts, result, thread = waiting_thread(clock, 300)
    cts.cancel()
    thread.join(WAIT)
    assert result == [True]
    assert clock.monotonic() == 0 and clock.pending == []


def test_advance_wakes_waiters_in_deadline_order_then_registration_order() -> None:
    clock = FakeClock()
    order: list[str] = []
    threads = []
    for name, delay in [("late", 20), ("tie-1", 10), ("tie-2", 10), ("early", 5)]:
        cts = th.CancellationTokenSource(clock)
        thread = threading.Thread(
            target=lambda n=name, d=delay, c=cts: (c.token.wait(d), order.append(n)))
        thread.start()
        threads.append(thread)
        clock.advance(0)  # let it block before the next one registers
    clock.advance(30)
    for thread in threads:
        thread.join(WAIT)
    assert order == ["early", "tie-1", "tie-2", "late"]


def test_cancel_after_fires_when_time_reaches_it() -> None:
    clock = FakeClock()
    cts = th.CancellationTokenSource(clock)
    cts.cancel_after(60)
    clock.advance(59.5)
    assert not cts.is_cancellation_requested
    clock.advance(0.5)
    assert cts.is_cancellation_requested


def test_set_moves_forward_and_refuses_to_go_back() -> None:
    clock = FakeClock(datetime(2030, 5, 1, tzinfo=UTC))
    clock.set(datetime(2030, 5, 2, tzinfo=UTC))
    assert clock.monotonic() == 86400
    with pytest.raises(ValueError, match=r"would go backwards"):
        clock.set(datetime(2030, 5, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match=r"cannot go backwards: got -1"):
        clock.advance(-1)


def test_start_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2030, 1, 1))


def run_recorder_for_an_hour() -> list[datetime]:
    clock = FakeClock()
    service = Recorder5m()
    builder = make_builder(service, clock=clock)
    host = builder.build()
    host.start()
    clock.advance(3600)
    report = host.stop()
    host.close()
    assert report.clean
    return service.times


def test_five_minute_service_records_exactly_13_times_in_an_hour_every_run() -> None:
    expected = [T0 + timedelta(minutes=5 * k) for k in range(13)]
    for _ in range(200):
        assert run_recorder_for_an_hour() == expected


def test_autojump_runs_a_virtual_day_of_five_minute_ticks_in_under_a_second() -> None:
    clock = FakeClock(autojump=True)
    service = Recorder5m()
    builder = make_builder(service, clock=clock)
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    # Under autojump time runs as soon as every participant waits, so the end is set up in
    # application_started (still inside start, at T0). Half a tick past the day: a timer due
    # at exactly 24h would lose the tie to the last tick's wait, registered earlier.
    end = th.CancellationTokenSource(clock)
    end.token.register(lifetime.stop_application)
    lifetime.application_started.register(lambda: end.cancel_after(86400 + 150))
    began = time.monotonic()
    host.start()
    assert host.wait_for_shutdown()
    report = host.stop()
    host.close()
    took = time.monotonic() - began
    assert report.clean
    assert len(service.times) == 289
    gaps = {b - a for a, b in zip(service.times, service.times[1:], strict=False)}
    assert gaps == {timedelta(minutes=5)}
    assert took < 1.0


def test_autojump_abandons_a_straggler_at_a_one_hour_deadline_in_seconds() -> None:
    clock = FakeClock(autojump=True, stall_timeout=0.2)
    straggler = IgnoresToken()
    builder = make_builder(straggler, shutdown_timeout=3600, clock=clock)
    host = builder.build()
    host.start()
    assert straggler.entered.wait(WAIT)
    began = time.monotonic()
    report = host.stop()
    took = time.monotonic() - began
    straggler.release.set()
    host.close()
    assert [s.name for s in report.stragglers] == ["IgnoresToken"]
    assert report.elapsed == 3600  # virtual seconds
    assert took < 5
    assert [e.thread_name for e in clock.stall_errors] == ["threadhost:IgnoresToken"]


def test_stall_logs_the_thread_and_stops_holding_the_clock(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(stall_timeout=0.1)
    straggler = IgnoresToken()
    builder = make_builder(straggler, clock=clock)
    host = builder.build()
    host.start()
    clock.advance(10)  # returns although the straggler never waits on the clock
    assert clock.monotonic() == 10
    straggler.release.set()
    host.stop()
    host.close()
    [record] = [r for r in caplog.records if "stayed outside a clock wait" in r.getMessage()]
    assert "'threadhost:IgnoresToken'" in record.getMessage()
    assert "self.release.wait" in record.getMessage()


def test_stall_raises_when_asked_to() -> None:
    clock = FakeClock(stall_timeout=0.1, on_stall="raise")
    straggler = IgnoresToken()
    builder = make_builder(straggler, clock=clock)
    host = builder.build()
    host.start()
    with pytest.raises(FakeClockStallError, match=r"thread 'threadhost:IgnoresToken' stayed "
                                                  r"outside a clock wait for 0\.1s"):
        clock.advance(10)
    straggler.release.set()
    host.stop()
    host.close()


def test_advance_from_inside_a_service_thread() -> None:
    clock = FakeClock()
    seen: list[float] = []
    moved = threading.Event()

    class Mover(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            clock.advance(42)
            seen.append(clock.monotonic())
            moved.set()
            stopping_token.wait()

    builder = make_builder(Mover(), clock=clock)
    with builder.build():
        assert moved.wait(WAIT)
    assert seen == [42]


def test_manual_clock_deadline_passes_only_when_the_test_advances() -> None:
    clock = FakeClock(stall_timeout=0.1)
    straggler = IgnoresToken()
    builder = make_builder(straggler, shutdown_timeout=30, clock=clock)
    host = builder.build()
    host.start()
    reports: list[th.ShutdownReport] = []
    stopper = threading.Thread(target=lambda: reports.append(host.stop()))
    stopper.start()
    stopper.join(0.3)
    assert reports == []  # real time alone never passes the virtual deadline
    clock.advance(30)
    stopper.join(WAIT)
    assert [s.name for s in reports[0].stragglers] == ["IgnoresToken"]
    straggler.release.set()
    host.close()
