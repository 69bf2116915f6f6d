from __future__ import annotations

import threading

import pytest

import threadhost as th
from tests._services import WAIT, IgnoresToken, Waiter, make_builder
from threadhost.testing import FakeClock, FakeClockStallError, run_host


def test_run_host_starts_yields_and_stops_cleanly() -> None:
    waiter = Waiter()
    with run_host(make_builder(waiter)) as host:
        assert waiter.entered.wait(WAIT)
        assert isinstance(host, th.Host)
    assert host.report is not None and host.report.clean and waiter.cleanups == 1


def test_run_host_fails_the_test_when_the_stop_was_not_clean() -> None:
    straggler = IgnoresToken()
    unclean = r"(?s)the host did not stop cleanly:.*IgnoresToken \(execute\) did not stop"
    with pytest.raises(AssertionError, match=unclean), \
            run_host(make_builder(straggler, shutdown_timeout=0.1)):
        assert straggler.entered.wait(WAIT)
    straggler.release.set()


def test_run_host_registers_the_given_clock() -> None:
    clock = FakeClock()
    with run_host(make_builder(), clock=clock) as host:
        assert host.services.get(th.Clock) is clock  # type: ignore[type-abstract]


def test_run_host_refuses_a_clock_for_a_built_host() -> None:
    host = make_builder().build()
    with pytest.raises(TypeError, match="the host is already built"), \
            run_host(host, clock=FakeClock()):
        pass


def test_run_host_raises_a_recorded_stall_under_autojump() -> None:
    clock = FakeClock(autojump=True, stall_timeout=0.1, on_stall="raise")
    release = threading.Event()

    class BlocksOffClock(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            release.wait(WAIT)  # not a clock wait: the clock sees a stall
            stopping_token.wait()

    class Ticks(th.PeriodicBackgroundService):
        interval = 1.0

        def run_once(self, stopping_token: th.CancellationToken) -> None:
            if stopping_token.clock.monotonic() >= 3:
                release.set()

    with pytest.raises(FakeClockStallError, match="'threadhost:BlocksOffClock'"), \
            run_host(make_builder(BlocksOffClock(), Ticks()), clock=clock):
        assert release.wait(WAIT)
