"""reload_on_change: OptionsMonitor, log levels re-applied, the last good value kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

import threadhost as th
from tests._services import make_builder
from threadhost._building.reload import POLL_INTERVAL
from threadhost.testing import FakeClock, run_host


@dataclass(frozen=True)
class Limits:
    count: int = 0


def write(path: Path, count: str, level: str = "Warning") -> None:
    path.write_text(f'{{"Limits": {{"Count": {count}}},\n'
                    f' "Logging": {{"LogLevel": {{"reload.app": "{level}"}}}}}}')


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "appsettings.json"
    write(path, "1")
    return path


def watched_builder(path: Path, clock: FakeClock) -> th.HostApplicationBuilder:
    builder = make_builder(clock=clock)
    builder.configuration.add_json_file(path, reload_on_change=True)
    builder.services.configure(Limits, section="Limits")
    return builder


def test_a_change_reaches_the_monitor_its_callbacks_and_the_log_levels(
        settings_file: Path, fake_clock: FakeClock) -> None:
    seen: list[int] = []
    with run_host(watched_builder(settings_file, fake_clock)) as host:
        monitor = host.services.get(th.OptionsMonitor[Limits])
        options = host.services.get(th.Options[Limits])
        registration = monitor.on_change(lambda value: seen.append(value.count))
        assert monitor.current_value.count == 1
        assert logging.getLogger("reload.app").level == logging.WARNING
        write(settings_file, "2", level="Debug")
        fake_clock.advance(POLL_INTERVAL)
        assert monitor.current_value.count == 2 and seen == [2]
        assert options.value.count == 1  # Options[T] keeps the value bound at build()
        assert logging.getLogger("reload.app").level == logging.DEBUG
        assert registration.unregister() is True
        write(settings_file, "3")
        fake_clock.advance(POLL_INTERVAL)
        assert monitor.current_value.count == 3 and seen == [2]


def test_an_edit_that_does_not_parse_is_logged_and_the_last_good_value_stays(
        settings_file: Path, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    with run_host(watched_builder(settings_file, fake_clock)) as host:
        monitor = host.services.get(th.OptionsMonitor[Limits])
        settings_file.write_text('{"Limits": {"Count": 5,,}}')
        fake_clock.advance(POLL_INTERVAL)
        fake_clock.advance(POLL_INTERVAL)  # logged once per edit, not once per poll
        assert monitor.current_value.count == 1
    errors = [r.getMessage() for r in caplog.records if r.name == "threadhost.configuration"]
    assert errors == [
        "A watched configuration file changed but cannot be used; the last good configuration "
        f"stays: {settings_file}:1:24: expected a key in double quotes or '}}', found ','"]


def test_an_edit_that_does_not_bind_keeps_the_whole_last_good_configuration(
        settings_file: Path, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    with run_host(watched_builder(settings_file, fake_clock)) as host:
        monitor = host.services.get(th.OptionsMonitor[Limits])
        config = host.services.get(th.Configuration)
        write(settings_file, '"many"')
        fake_clock.advance(POLL_INTERVAL)
        assert monitor.current_value.count == 1 and config["Limits:Count"] == "1"
        write(settings_file, "7")
        fake_clock.advance(POLL_INTERVAL)
        assert monitor.current_value.count == 7
    assert any(f"Limits:Count='many' is invalid: expected an integer (int) (set in "
               f"{settings_file}:1:22)" in r.getMessage() for r in caplog.records)


def test_a_callback_that_raises_is_logged_and_the_others_still_run(
        settings_file: Path, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[int] = []

    def broken(value: Limits) -> None:
        raise RuntimeError("callback bug")

    with run_host(watched_builder(settings_file, fake_clock)) as host:
        monitor = host.services.get(th.OptionsMonitor[Limits])
        monitor.on_change(broken)
        monitor.on_change(lambda value: seen.append(value.count))
        write(settings_file, "4")
        fake_clock.advance(POLL_INTERVAL)
    assert seen == [4]
    assert any(r.getMessage() == "An OptionsMonitor[Limits].on_change callback raised."
               for r in caplog.records)


def test_without_reload_on_change_no_watcher_runs(settings_file: Path,
                                                  fake_clock: FakeClock) -> None:
    builder = make_builder(clock=fake_clock)
    builder.configuration.add_json_file(settings_file)
    builder.services.configure(Limits, section="Limits")
    with run_host(builder) as host:
        write(settings_file, "9")
        fake_clock.advance(POLL_INTERVAL * 5)
        assert host.services.get(th.OptionsMonitor[Limits]).current_value.count == 1
    assert host.report is not None and host.report.stopped == ()
