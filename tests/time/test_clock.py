"""SystemClock: infinite timeouts, a timer thread nothing can kill, timers after fork()."""

from __future__ import annotations

import math
import os
import threading

import pytest

import threadhost as th
from tests._services import WAIT
from threadhost._time.clock import SYSTEM_CLOCK

HUGE = [math.inf, 1e10, threading.TIMEOUT_MAX * 2]


def timer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "threadhost:timer"]


def wait_in_thread(wait: object) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(wait()))  # type: ignore[operator]
    thread.start()
    return thread, result


@pytest.mark.parametrize("timeout", HUGE)
def test_token_wait_with_a_huge_timeout_waits_for_the_token(timeout: float) -> None:
    cts = th.CancellationTokenSource()
    thread, result = wait_in_thread(lambda: cts.token.wait(timeout))
    cts.cancel()
    thread.join(WAIT)
    assert result == [True]


@pytest.mark.parametrize("timeout", HUGE)
def test_clock_wait_with_a_huge_timeout_waits_for_the_token(timeout: float) -> None:
    cts = th.CancellationTokenSource()
    thread, result = wait_in_thread(lambda: SYSTEM_CLOCK.wait(cts.token, timeout))
    cts.cancel()
    thread.join(WAIT)
    assert result == [True]


def test_wait_of_zero_or_less_returns_at_once_without_blocking() -> None:
    token = th.CancellationTokenSource().token
    assert SYSTEM_CLOCK.wait(token, 0) is False
    assert SYSTEM_CLOCK.wait(token, -1) is False
    assert SYSTEM_CLOCK.wait(None, 0) is False


def test_a_nan_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="got nan"):
        SYSTEM_CLOCK.wait(None, math.nan)
    with pytest.raises(ValueError, match="got nan"):
        SYSTEM_CLOCK.call_later(math.nan, lambda: None)


@pytest.mark.parametrize("delay", HUGE)
def test_call_later_with_a_huge_delay_schedules_no_timer(delay: float) -> None:
    assert timer_threads() == []
    handle = SYSTEM_CLOCK.call_later(delay, lambda: None)
    assert timer_threads() == []
    handle.cancel()


def test_cancel_after_infinity_never_cancels_and_other_timers_still_fire() -> None:
    forever = th.CancellationTokenSource()
    forever.cancel_after(math.inf)
    soon = th.CancellationTokenSource()
    soon.cancel_after(0.01)
    assert soon.token.wait(WAIT)
    assert not forever.is_cancellation_requested
    forever.close()


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt(), GeneratorExit(),
                                   OverflowError("timeout value is too large")])
def test_later_timers_fire_after_a_callback_raised(
        error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    def explode() -> None:
        raise error

    fired = threading.Event()
    SYSTEM_CLOCK.call_later(0.001, explode)
    SYSTEM_CLOCK.call_later(0.002, fired.set)
    assert fired.wait(WAIT)
    after = threading.Event()
    SYSTEM_CLOCK.call_later(0.001, after.set)  # and the thread still serves new timers
    assert after.wait(WAIT)
    assert "A timer callback raised; the timer thread goes on." in caplog.text


def test_the_timer_thread_ends_when_no_timer_is_pending() -> None:
    handle = SYSTEM_CLOCK.call_later(3600, lambda: None)
    [thread] = timer_threads()
    handle.cancel()
    thread.join(WAIT)
    assert not thread.is_alive()


def test_timers_fire_in_deadline_order_whatever_the_order_they_were_scheduled_in() -> None:
    order: list[int] = []
    done = threading.Event()

    def fire(name: int) -> None:
        order.append(name)
        if len(order) == 3:
            done.set()

    # Scheduled latest-first; each deadline is taken as it is scheduled, so the expected order
    # is read from the handles (a test thread preempted between two calls moves them).
    handles = {3: SYSTEM_CLOCK.call_later(0.03, lambda: fire(3)),
               1: SYSTEM_CLOCK.call_later(0.01, lambda: fire(1)),
               2: SYSTEM_CLOCK.call_later(0.02, lambda: fire(2))}
    assert done.wait(WAIT)
    assert order == sorted(handles, key=lambda name: handles[name].deadline)  # type: ignore[attr-defined]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_child_forked_with_a_timer_pending_has_working_timers() -> None:
    parent_timer = SYSTEM_CLOCK.call_later(3600, lambda: None)  # the timer thread waits on it
    assert len(timer_threads()) == 1
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only if its own timers work
        code = 1
        try:
            cts = th.CancellationTokenSource()
            cts.cancel_after(0.01)
            fired = threading.Event()
            SYSTEM_CLOCK.call_later(0.01, fired.set)
            if cts.token.wait(WAIT) and fired.wait(WAIT):
                code = 0
        finally:
            os._exit(code)
    parent_timer.cancel()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    fired = threading.Event()
    SYSTEM_CLOCK.call_later(0.001, fired.set)  # and the parent's go on
    assert fired.wait(WAIT)


def test_join_threads_returns_the_threads_still_alive_after_the_real_timeout() -> None:
    release = threading.Event()
    ends = threading.Thread(target=lambda: None)
    stuck = threading.Thread(target=release.wait, args=(WAIT,))
    ends.start()
    stuck.start()
    assert SYSTEM_CLOCK.join_threads([ends, stuck], 0.01) == [stuck]
    release.set()
    assert SYSTEM_CLOCK.join_threads([stuck], math.inf) == []
