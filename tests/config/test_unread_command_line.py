"""A command-line key that nothing read by the end of start is a WARNING naming it, with the
closest key that was read or bound; the keys the application reads are left alone."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import threadhost as th
from tests._services import make_builder


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "threadhost.configuration" and r.levelno == logging.WARNING]


class ReadsItsKey(th.HostedService):
    """Reads ``Mailer:From`` as it is constructed, as an application reads its settings."""

    def __init__(self, config: th.Configuration) -> None:
        self.sender = config.get("Mailer:From")

    def start(self, cancellation_token: th.CancellationToken) -> None:
        pass

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        pass


def run_with(args: list[str], caplog: pytest.LogCaptureFixture) -> list[str]:
    builder = make_builder(ReadsItsKey, args=args)
    with caplog.at_level(logging.WARNING, logger="threadhost.configuration"):
        host = builder.build()
        host.start()
        host.stop()
        host.close()
    return warnings_of(caplog)


def test_a_typo_in_a_command_line_option_is_a_warning_with_the_closest_known_key(
        caplog: pytest.LogCaptureFixture) -> None:
    assert run_with(["--shutdown-timout=3"], caplog) == [
        "command line: --shutdown-timout=3 set the key 'shutdown-timout', which nothing read "
        "by the end of start; did you mean --HostOptions:ShutdownTimeout=3?"]


def test_an_option_close_to_nothing_is_a_warning_that_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    assert run_with(["--bogus=1"], caplog) == [
        "command line: --bogus=1 set the key 'bogus', which nothing read by the end of start "
        "(a typo?)"]


def test_keys_read_by_the_application_or_bound_to_options_are_not_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    assert run_with(["--Mailer:From=ops@example.org", "--HostOptions:ShutdownTimeout=3",
                     "--Logging:LogLevel:Default=Warning"], caplog) == []


def test_a_typo_of_a_key_the_application_reads_names_that_key(
        caplog: pytest.LogCaptureFixture) -> None:
    assert run_with(["--Mailer:Frm=ops@example.org"], caplog) == [
        "command line: --Mailer:Frm=ops@example.org set the key 'Mailer:Frm', which nothing "
        "read by the end of start; did you mean --Mailer:From=ops@example.org?"]


def test_the_host_settings_given_on_the_command_line_are_read_not_typos(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    assert run_with(["--environment", "Staging", f"--contentRoot={tmp_path}",
                     "--applicationName=orders", "--shutdownTimeoutSeconds=4"], caplog) == []


def test_a_typo_in_a_host_setting_is_a_warning_naming_the_setting(
        caplog: pytest.LogCaptureFixture) -> None:
    assert run_with(["--enviroment=Staging"], caplog) == [
        "command line: --enviroment=Staging set the key 'enviroment', which nothing read by "
        "the end of start; did you mean --environment=Staging?"]
