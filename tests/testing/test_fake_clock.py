"""FakeClock: virtual time that wakes waiting threads, deterministically."""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
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


def test_autojump_runs_a_virtual_day_of_five_minute_ticks_without_real_time() -> None:
    clock = FakeClock(autojump=True, stall_timeout=3600)  # no step may wait for a stall
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
    assert took < WAIT  # generous: it takes about 0.01 s (benchmarks/bench_fakeclock.py)


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


# -- waits that never block ------------------------------------------------------------------

def test_wait_of_zero_returns_at_once_under_a_manual_clock() -> None:
    clock = FakeClock()
    token = th.CancellationTokenSource(clock).token
    assert clock.wait(token, 0) is False
    assert clock.wait(None, -5) is False
    assert token.wait(0) is False
    clock.sleep(0)
    assert clock.pending == [] and clock.monotonic() == 0


def test_wait_on_a_cancelled_token_returns_at_once() -> None:
    clock = FakeClock()
    cts = th.CancellationTokenSource(clock)
    cts.cancel()
    assert clock.wait(cts.token, 60) is True
    assert clock.wait(cts.token, None) is True
    assert clock.pending == []


@pytest.mark.parametrize("timeout", [math.inf, 1e10, threading.TIMEOUT_MAX * 2])
def test_a_huge_timeout_is_no_timeout_and_leaves_no_deadline(timeout: float) -> None:
    clock = FakeClock()
    cts, result, thread = waiting_thread(clock, timeout)
    clock.advance(0)
    assert clock.pending == []
    clock.advance(1e9)
    assert result == []
    cts.cancel()
    thread.join(WAIT)
    assert result == [True]


def test_an_infinite_delay_never_fires_and_advance_refuses_infinity() -> None:
    clock = FakeClock()
    fired: list[bool] = []
    clock.call_later(math.inf, lambda: fired.append(True))
    assert clock.pending == []
    with pytest.raises(ValueError, match=r"finite number of seconds: got inf"):
        clock.advance(math.inf)
    clock.advance(1e12)
    assert fired == []


def test_a_token_cancelled_as_its_wait_begins_leaves_nothing_pending() -> None:
    for _ in range(20):
        clock = FakeClock(autojump=True)
        stop = th.CancellationTokenSource(clock)
        poller = polling_participant(clock, 60, [], stop)  # steps to its own deadlines
        while clock.monotonic() < 3600:
            pass
        stop.cancel()  # lands anywhere in the poller's wait, its start included
        poller.join(WAIT)
        assert clock.pending == []
        later = th.CancellationTokenSource(clock)
        later.cancel_after(5)
        assert later.token.wait()  # time still moves, and then the watcher ends
        watchers = [t for t in threading.enumerate() if t.name == "threadhost:autojump"]
        for watcher in watchers:
            watcher.join(WAIT)
            assert not watcher.is_alive()


# -- callbacks -------------------------------------------------------------------------------

def test_a_callback_may_wait_on_the_clock_under_a_manual_clock() -> None:
    clock = FakeClock(on_stall="raise")
    seen: list[tuple[str, float]] = []

    def slow_callback() -> None:
        seen.append(("begins", clock.monotonic()))
        clock.sleep(5)
        seen.append(("ends", clock.monotonic()))

    clock.call_later(10, slow_callback)
    clock.advance(12)
    assert seen == [("begins", 10)]
    clock.advance(8)
    assert seen == [("begins", 10), ("ends", 15)]
    assert clock.monotonic() == 20


def test_a_callback_may_wait_on_the_clock_under_autojump() -> None:
    clock = FakeClock(autojump=True, on_stall="raise")
    done = th.Event(clock)

    def slow_callback() -> None:
        clock.sleep(5)
        done.set()

    clock.call_later(10, slow_callback)
    assert done.wait()  # a clock wait of this thread: time jumps while it blocks
    assert clock.monotonic() == 15


def test_a_callback_that_raises_is_logged_and_time_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    clock.call_later(1, lambda: 1 / 0)
    fired: list[float] = []
    clock.call_later(2, lambda: fired.append(clock.monotonic()))
    clock.advance(3)
    assert fired == [2]
    assert "FakeClock: the timer callback" in caplog.text
    assert "ZeroDivisionError" in caplog.text


# -- concurrent advances ---------------------------------------------------------------------

def start_participant(clock: FakeClock, body: Callable[[], object]) -> threading.Thread:
    """Run ``body`` on a thread that is the clock's participant from before it starts (as a
    host's service thread is) until ``body`` is over."""
    def run() -> None:
        try:
            body()
        finally:
            clock.unregister_participant(threading.current_thread())

    thread = threading.Thread(target=run)
    clock.register_participant(thread)
    thread.start()
    return thread


def test_concurrent_advances_take_turns_and_add_up_without_a_stall() -> None:
    for _ in range(100):
        clock = FakeClock(on_stall="raise")
        # A service thread advancing beside the test.
        mover = start_participant(clock, functools.partial(clock.advance, 42))
        clock.advance(10)
        mover.join(WAIT)
        assert clock.monotonic() == 52 and clock.stall_errors == []


def test_a_thread_waiting_for_its_turn_to_advance_counts_as_blocked() -> None:
    clock = FakeClock(on_stall="raise")
    seen: list[float] = []

    def service() -> None:  # woken in the middle of the test's advance, it advances too
        clock.sleep(10)
        clock.advance(5)
        seen.append(clock.monotonic())

    thread = start_participant(clock, service)
    clock.advance(30)  # no stall: the service waits for its turn in a clock wait
    thread.join(WAIT)
    assert seen == [35] and clock.monotonic() == 35


# -- hold() ----------------------------------------------------------------------------------

def polling_participant(clock: FakeClock, every: float, times: list[float],
                        stop: th.CancellationTokenSource) -> threading.Thread:
    def run() -> None:
        times.append(clock.monotonic())
        while not stop.token.wait(every):
            times.append(clock.monotonic())

    return start_participant(clock, run)


def test_hold_keeps_autojump_from_moving_time_while_the_test_sets_up() -> None:
    clock = FakeClock(autojump=True, on_stall="raise")
    times: list[float] = []
    stop = th.CancellationTokenSource(clock)
    end = th.CancellationTokenSource(clock)
    with clock.hold():
        poller = polling_participant(clock, 60, times, stop)
        handshake = threading.Event()  # the test blocks off the clock for a while...
        helper = threading.Thread(target=handshake.set)
        helper.start()
        assert handshake.wait(WAIT)
        helper.join(WAIT)
        assert clock.monotonic() == 0  # ...and time has not moved
        end.cancel_after(630)  # past the tick at 600 (a tie would go to the older timer)
    assert end.token.wait()
    stop.cancel()
    poller.join(WAIT)
    assert times == [60.0 * k for k in range(11)]


def test_hold_is_reentrant_and_time_moves_once_the_outer_block_ends() -> None:
    clock = FakeClock(autojump=True)
    done = th.CancellationTokenSource(clock)
    with clock.hold():
        with clock.hold():
            done.cancel_after(30)
        assert clock.monotonic() == 0 and not done.is_cancellation_requested
    assert done.token.wait()
    assert clock.monotonic() == 30


# -- who holds the clock, without real time --------------------------------------------------

def until_pending(clock: FakeClock, deadlines: list[float]) -> None:
    """Spin until the clock's pending deadlines are ``deadlines`` (a thread has blocked)."""
    give_up = time.monotonic() + WAIT
    while clock.pending != deadlines:
        assert time.monotonic() < give_up, f"pending stayed {clock.pending}"


def test_a_woken_thread_that_ends_lets_time_move_at_once() -> None:
    clock = FakeClock(autojump=True, stall_timeout=3600)  # a stall would exceed WAIT
    outsider = threading.Thread(target=lambda: clock.sleep(10))  # not a participant
    later = th.Event(clock)
    with clock.hold():
        outsider.start()
        until_pending(clock, [10])
        clock.call_later(20, later.set)
    assert later.wait()  # needs time to pass 10, where the outsider wakes and then ends
    outsider.join(WAIT)
    assert clock.monotonic() == 20


def test_a_woken_thread_holds_the_clock_until_it_waits_again() -> None:
    clock = FakeClock(autojump=True, stall_timeout=3600)
    seen: list[float] = []

    def outsider() -> None:  # not registered: it counts from each wake to its next wait
        for _ in range(3):
            clock.sleep(10)
            seen.append(clock.monotonic())
            handshake = threading.Event()  # off-clock work while it holds the clock
            helper = threading.Thread(target=handshake.set)
            helper.start()
            handshake.wait(WAIT)
            helper.join(WAIT)
            seen.append(clock.monotonic())

    thread = threading.Thread(target=outsider)
    ticks = th.CancellationTokenSource(clock)
    with clock.hold():
        thread.start()
        until_pending(clock, [10])
        ticker = polling_participant(clock, 1, [], ticks)
    thread.join(WAIT)
    ticks.cancel()
    ticker.join(WAIT)
    assert seen == [10, 10, 20, 20, 30, 30]


def test_a_thread_registered_by_another_holds_the_clock_until_it_ends() -> None:
    clock = FakeClock(autojump=True, on_stall="raise")
    after_leaving: list[float] = []
    ticks = th.CancellationTokenSource(clock)
    with clock.hold():
        ticker = polling_participant(clock, 1, [], ticks)

        def worker() -> None:
            clock.sleep(10)
            clock.unregister_participant(threading.current_thread())
            after_leaving.append(clock.monotonic())  # its last acts, before it ends

        thread = threading.Thread(target=worker)
        clock.register_participant(thread)
        thread.start()
    thread.join(WAIT)
    ticks.cancel()
    ticker.join(WAIT)
    assert after_leaving == [10]


def test_a_woken_outsider_blocked_off_the_clock_is_let_go_after_the_stall_timeout() -> None:
    clock = FakeClock(autojump=True, stall_timeout=0.05, on_stall="raise")
    release = threading.Event()

    def outsider() -> None:
        clock.sleep(10)
        release.wait(WAIT)  # off the clock, with no end in sight for the clock

    thread = threading.Thread(target=outsider)
    later = th.Event(clock)
    with clock.hold():
        thread.start()
        until_pending(clock, [10])
        clock.call_later(20, later.set)
    assert later.wait()
    release.set()
    thread.join(WAIT)
    assert clock.monotonic() == 20 and clock.stall_errors == []  # outsiders never "stall"


def test_an_outside_reader_sees_only_settled_times() -> None:
    clock = FakeClock(autojump=True, stall_timeout=3600)
    times: list[float] = []
    stop = th.CancellationTokenSource(clock)
    end = th.CancellationTokenSource(clock)
    with clock.hold():
        poller = polling_participant(clock, 60, times, stop)
        end.cancel_after(3600)
    reads = []
    while (now := clock.monotonic()) < 3600:  # the test polls, as users' tests do
        reads.append((now, now in times))  # the poller has reacted to every time we see
    stop.cancel()
    poller.join(WAIT)
    assert all(reacted for _, reacted in reads)
    assert [now for now, _ in reads] == sorted(now for now, _ in reads)


# -- join_threads: a stop's grace --------------------------------------------------------------

def test_join_threads_does_not_wait_for_threads_blocked_on_the_clock() -> None:
    clock = FakeClock(stall_timeout=3600)
    sleeper_token = th.CancellationTokenSource(clock)
    sleeper = polling_participant(clock, 3600, [], sleeper_token)  # blocked in a clock wait
    clock.advance(0)
    began = time.monotonic()
    assert clock.join_threads([sleeper], 3600) == [sleeper]  # it cannot end: no grace
    assert time.monotonic() - began < WAIT  # generous: it returns at once
    sleeper_token.cancel()
    assert clock.join_threads([sleeper], 3600) == []  # woken, it ends, and is joined
    sleeper.join(WAIT)


def test_join_threads_waits_the_real_timeout_for_a_thread_running_off_the_clock() -> None:
    clock = FakeClock()
    release = threading.Event()

    thread = start_participant(clock, functools.partial(release.wait, WAIT))
    assert clock.join_threads([thread], 0.01) == [thread]
    release.set()
    assert clock.join_threads([thread], math.inf) == []


def test_an_end_reported_by_a_thread_inside_the_clock_is_taken_once_it_lets_go() -> None:
    # The garbage collector may run a dead thread's exit watch (_thread_exit) on any thread,
    # even one holding the clock's lock: seen once in 15 suite runs with both cores busy, the
    # autojump watcher formatting a stall's stack collected one and the whole process hung.
    clock = FakeClock()
    gone = threading.Thread(target=lambda: None, name="gone")
    gone.start()
    gone.join()
    heard: list[bool] = []

    def inside_the_clock() -> None:
        with clock._lock:
            clock._thread_ended(gone)  # where the collector may run it
            heard.append(gone in clock._ended)  # queued, not yet taken
        heard.append(gone in clock._ended)

    helper = threading.Thread(target=inside_the_clock, name="inside-the-clock", daemon=True)
    helper.start()
    helper.join(WAIT)
    assert not helper.is_alive(), "reporting a thread's end under the clock's lock deadlocked"
    assert heard == [False, True]
