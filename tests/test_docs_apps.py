"""The docs' whole applications: the README's worker run as a program and stopped by SIGTERM,
the configuration page's grace-period manager reading its appsettings.json, the schedules
page's two schedules firing at the times the page says (on a FakeClock, a day in
milliseconds)."""

from __future__ import annotations

import re
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

import threadhost as th
from tests._docs import ROOT, Block, run, setup_block, setup_blocks
from tests._subprocess import App
from threadhost.testing import FakeClock, run_host

# The README's worker, with the one function it leaves to the reader, run as ``__main__``.
RUN_MAILER = '''\
import runpy
import sys


def send_pending_mail():
    print("mail sent", flush=True)


sys.argv = ["mailer.py", *sys.argv[1:]]
runpy.run_path("mailer.py", init_globals={"send_pending_mail": send_pending_mail},
               run_name="__main__")
'''


@pytest.mark.parametrize("block", setup_blocks("worker-main"),
                         ids=[b.where for b in setup_blocks("worker-main")])
def test_the_worker_sends_mail_until_sigterm_then_exits_0(block: Block, tmp_path: Path) -> None:
    (tmp_path / "mailer.py").write_text(block.code)
    (tmp_path / "run_mailer.py").write_text(RUN_MAILER)
    with App(str(tmp_path / "run_mailer.py"), "--Mailer:EverySeconds=0.05", cwd=tmp_path,
             env={"PYTHONPATH": str(ROOT)}) as app:
        app.expect("mail sent")
        app.expect("mail sent")  # again, 50 ms later: the command line set the period
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert any("Application is shutting down..." in line for line in app.stderr), app.output()


@pytest.mark.parametrize("block", setup_blocks("worker-main"),
                         ids=[b.where for b in setup_blocks("worker-main")])
def test_the_worker_s_bad_setting_is_one_line_naming_the_key_and_exit_code_2(
        block: Block, tmp_path: Path) -> None:
    (tmp_path / "mailer.py").write_text(block.code)
    (tmp_path / "run_mailer.py").write_text(RUN_MAILER)
    with App(str(tmp_path / "run_mailer.py"), "--Mailer:EverySeconds=abc", cwd=tmp_path,
             env={"PYTHONPATH": str(ROOT)}) as app:
        assert app.wait() == 2, app.output()
    assert len(app.stderr) == 1 and "Mailer:EverySeconds='abc'" in app.stderr[0], app.output()


def test_the_grace_period_manager_reads_its_settings_from_appsettings_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock) -> None:
    page = (ROOT / "docs" / "pages" / "configuration.md").read_text()
    settings = re.search(r"with `appsettings.json`:\n\n```json\n(.*?)```", page, re.S)
    assert settings is not None, "configuration.md: the appsettings.json example is gone"
    (tmp_path / "appsettings.json").write_text(settings.group(1))
    monkeypatch.chdir(tmp_path)
    confirmed: list[tuple[float, int]] = []
    module = run(setup_block("grace-period"), {
        "confirm_orders_older_than": lambda minutes: confirmed.append(
            (fake_clock.monotonic(), minutes))})
    module.builder.services.add_instance(th.Clock, fake_clock)
    module.builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    with run_host(module.builder):
        fake_clock.advance(100)
    # CheckUpdateTime 30 s, GracePeriodTime 1 minute: from the file.
    assert confirmed == [(30.0, 1), (60.0, 1), (90.0, 1)]


def run_a_day(builder: th.HostApplicationBuilder) -> None:
    """Run ``builder``'s host for the virtual day 2026-01-01 (UTC)."""
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    builder.services.add_instance(th.Clock, clock)
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    with run_host(builder):
        clock.advance(86400)


def test_the_scheduled_function_reports_at_half_past_two_in_berlin(
        capsys: pytest.CaptureFixture[str]) -> None:
    module = run(setup_block("schedule-function"))
    run_a_day(module.builder)
    assert capsys.readouterr().out == "report for 2026-01-01T02:30:00+01:00\n"


def test_the_cleanup_runs_every_six_hours_in_new_york(
        capsys: pytest.CaptureFixture[str]) -> None:
    module = run(setup_block("schedule-class"))
    run_a_day(module.builder)  # 2025-12-31 19:00 to 2026-01-01 19:00 in New York
    assert capsys.readouterr().out.splitlines() == [
        f"cleaning up for 2026-01-01 {hour:02}:00:00-05:00" for hour in (0, 6, 12, 18)]
