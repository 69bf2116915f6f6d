"""A key in a bound section that matches no field is a WARNING naming it, its source and the
closest field; it never fails the build, and it keeps the configured log format."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

import threadhost as th
from tests._services import make_builder
from tests._subprocess import App


@dataclasses.dataclass
class WorkerOptions:
    poll_interval: float = 1.0
    batch_size: int = 10


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "threadhost.configuration" and r.levelno == logging.WARNING]


def test_a_typo_in_a_bound_section_is_a_warning_with_the_closest_field(
        caplog: pytest.LogCaptureFixture) -> None:
    builder = make_builder(args=["--Worker:PollIntervall=5"])
    builder.services.configure(WorkerOptions, "Worker")
    with caplog.at_level(logging.WARNING, logger="threadhost.configuration"):
        host = builder.build()
    host.close()
    assert warnings_of(caplog) == [
        "Configuration key 'Worker:PollIntervall' (from command line Worker:PollIntervall) "
        "matches no field of WorkerOptions and is ignored; did you mean PollInterval?"]
    assert host.services.get(th.Options[WorkerOptions]).value.poll_interval == 1.0


def test_typos_in_host_options_and_nested_sections_are_named(
        caplog: pytest.LogCaptureFixture) -> None:
    builder = make_builder(args=["--HostOptions:ShutdownTimout=3",
                                 "--HostOptions:Restart:Mod=Always"])
    with caplog.at_level(logging.WARNING, logger="threadhost.configuration"):
        host = builder.build()
    host.close()
    found = warnings_of(caplog)
    assert any("'HostOptions:ShutdownTimout'" in m and "did you mean ShutdownTimeout?" in m
               for m in found), found
    assert any("'HostOptions:Restart:Mod'" in m and "did you mean Mode?" in m
               for m in found), found


def test_a_key_like_no_field_gets_no_suggestion(caplog: pytest.LogCaptureFixture) -> None:
    builder = make_builder(args=["--Worker:Zzz=1"])
    builder.services.configure(WorkerOptions, "Worker")
    with caplog.at_level(logging.WARNING, logger="threadhost.configuration"):
        builder.build().close()
    [message] = warnings_of(caplog)
    assert message.endswith("matches no field of WorkerOptions and is ignored")


def test_the_warning_is_a_json_record_in_a_json_log() -> None:
    with App("tests/apps/straggler_app.py", "--Logging:Console:FormatterName=json",
             "--HostOptions:ShutdownTimout=1") as app:
        assert app.wait() == 3
    records = [json.loads(line) for line in app.stderr]  # every line is JSON
    [warning] = [r for r in records if r["logger"] == "threadhost.configuration"]
    assert warning["level"] == "WARNING" and warning["config_key"] == "HostOptions:ShutdownTimout"


def test_configure_overriding_a_value_given_on_the_command_line_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    builder = make_builder(args=["--HostOptions:ShutdownTimeout=3"])
    builder.services.configure(th.HostOptions, shutdown_timeout=10)
    with caplog.at_level(logging.WARNING, logger="threadhost.configuration"):
        host = builder.build()
    host.close()
    assert host.services.get(th.HostOptions).shutdown_timeout == 10  # code wins, as .NET
    [message] = warnings_of(caplog)
    assert message.startswith(
        "services.configure(HostOptions, shutdown_timeout=10) overrides "
        "HostOptions:ShutdownTimeout='3' from command line")
    assert "builder.configuration.add_defaults({'HostOptions:ShutdownTimeout': 10})" in message


def test_a_default_given_in_code_is_overridden_by_the_command_line_without_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    builder = make_builder(args=["--HostOptions:ShutdownTimeout=3"])
    builder.configuration.add_defaults({"HostOptions:ShutdownTimeout": 10})
    with caplog.at_level(logging.WARNING, logger="threadhost.configuration"):
        host = builder.build()
    host.close()
    assert host.services.get(th.HostOptions).shutdown_timeout == 3
    assert warnings_of(caplog) == []


def test_configure_with_nothing_given_elsewhere_is_silent(
        caplog: pytest.LogCaptureFixture) -> None:
    builder = make_builder()
    builder.services.configure(th.HostOptions, shutdown_timeout=10)
    with caplog.at_level(logging.WARNING, logger="threadhost.configuration"):
        builder.build().close()
    assert warnings_of(caplog) == []


def test_an_unknown_key_fails_the_build_when_the_user_opts_in_to_strict_binding() -> None:
    builder = make_builder(args=["--Worker:PollIntervall=5"])
    builder.configuration.error_on_unknown_keys = True
    builder.services.configure(WorkerOptions, "Worker")
    with pytest.raises(th.ConfigurationError) as raised:
        builder.build()
    assert str(raised.value) == (
        "Configuration key 'Worker:PollIntervall' (from command line Worker:PollIntervall) "
        "matches no field of WorkerOptions; did you mean PollInterval? "
        "(configuration.error_on_unknown_keys is set)")


def test_strict_binding_is_one_setting_of_the_root_seen_from_every_section() -> None:
    builder = make_builder(args=["--Worker:PollInterval=5"])
    section = builder.configuration.get_section("Worker")
    assert section.error_on_unknown_keys is False
    section.error_on_unknown_keys = True
    assert builder.configuration.error_on_unknown_keys is True
    builder.services.configure(WorkerOptions, "Worker")
    host = builder.build()  # every key known: strictness costs nothing
    host.close()
    assert host.services.get(th.Options[WorkerOptions]).value.poll_interval == 5.0
