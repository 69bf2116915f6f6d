"""PeriodicBackgroundService on a FakeClock: the grid, overruns, failures."""

from __future__ import annotations

import logging

import pytest

import threadhost as th
from tests._services import make_builder
from threadhost.testing import FakeClock


class Ticker(th.PeriodicBackgroundService):
    """Records the virtual second of each run; run 0 can overrun, run 1 can raise."""

    interval = 10.0

    def __init__(self, overrun_first: float = 0.0, fail_second: bool = False) -> None:
        self.ticks: list[float] = []
        self.overrun_first = overrun_first
        self.fail_second = fail_second

    def run_once(self, stopping_token: th.CancellationToken) -> None:
        self.ticks.append(stopping_token.clock.monotonic())
        if len(self.ticks) == 1 and self.overrun_first:
            stopping_token.clock.sleep(self.overrun_first)
        if len(self.ticks) == 2 and self.fail_second:
            raise RuntimeError("tick two broke")


def run_for(service: th.PeriodicBackgroundService, seconds: float) -> None:
    clock = FakeClock()
    builder = make_builder(service, clock=clock)
    with builder.build():
        clock.advance(seconds)


def test_runs_at_once_then_on_the_grid() -> None:
    ticker = Ticker()
    run_for(ticker, 45)
    assert ticker.ticks == [0, 10, 20, 30, 40]


def test_overrun_skips_the_ticks_it_covered_and_warns_once(
        caplog: pytest.LogCaptureFixture) -> None:
    ticker = Ticker(overrun_first=25)
    with caplog.at_level(logging.WARNING, logger="threadhost.services"):
        run_for(ticker, 45)
    assert ticker.ticks == [0, 30, 40]
    assert [r.getMessage() for r in caplog.records if r.name == "threadhost.services"] == [
        "PeriodicBackgroundService 'Ticker' overran its interval of 10.0s; skipping 2 missed "
        "tick(s)."]


def test_exception_in_one_run_is_logged_and_the_next_runs(
        caplog: pytest.LogCaptureFixture) -> None:
    ticker = Ticker(fail_second=True)
    with caplog.at_level(logging.ERROR, logger="threadhost.services"):
        run_for(ticker, 35)
    assert ticker.ticks == [0, 10, 20, 30]
    [record] = [r for r in caplog.records if r.name == "threadhost.services"]
    assert record.exc_info is not None and str(record.exc_info[1]) == "tick two broke"


def test_first_delay_shifts_the_grid() -> None:
    ticker = Ticker()
    ticker.first_delay = 5
    run_for(ticker, 30)
    assert ticker.ticks == [5, 15, 25]


def test_bad_interval_fails_startup_naming_the_service() -> None:
    ticker = Ticker()
    ticker.interval = 0
    host = make_builder(ticker).build()
    with pytest.raises(th.HostStartupError,
                       match=r"Ticker\.interval=0 is invalid: expected seconds > 0"):
        host.start()
    host.close()
