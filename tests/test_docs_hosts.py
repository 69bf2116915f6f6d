"""The docs' fragments that live inside a host: each test gives its block the context the page
implies (a builder, a started host, a service to restart) and checks what the page promises.

The builders here are the ones an application makes (``Host.create_application_builder``, in
a temporary content root), with a ``FakeClock`` and ``NullLifetime`` so that nothing waits in
real time and no signal handler is installed.
"""

from __future__ import annotations

import json
import logging
import queue
import urllib.request
from pathlib import Path

import pytest

import threadhost as th
from tests._docs import block_before, run, setup_block
from tests._services import WAIT
from tests.process.test_systemd import Systemd
from threadhost.testing import FakeClock, run_host


@pytest.fixture
def builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            fake_clock: FakeClock) -> th.HostApplicationBuilder:
    """An application's builder, in ``tmp_path`` as its content root, on the fake clock."""
    monkeypatch.chdir(tmp_path)
    made = th.Host.create_application_builder([])
    made.services.add_instance(th.Clock, fake_clock)
    made.services.add_singleton(th.HostLifetime, th.NullLifetime)
    return made


def test_options_monitor_gets_the_new_limits_when_the_file_changes(
        builder: th.HostApplicationBuilder, fake_clock: FakeClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    limits = tmp_path / "limits.json"
    limits.write_text('{"Limits": {"RequestsPerSecond": 5}}')
    page = run(setup_block("options-monitor"), {"builder": builder})
    with run_host(builder) as host, caplog.at_level(logging.INFO, "throttle"):
        throttle = host.services.get(page.Throttle)
        assert throttle.limits.current_value == page.Limits(requests_per_second=5.0)
        limits.write_text('{"Limits": {"RequestsPerSecond": 20}}')
        fake_clock.advance(1)  # the file is polled every second on the host's clock
        assert throttle.limits.current_value == page.Limits(requests_per_second=20.0)
    assert "new limits: Limits(requests_per_second=20.0)" in caplog.messages


def test_each_run_of_the_importer_commits_a_unit_of_work_of_its_own(
        builder: th.HostApplicationBuilder, fake_clock: FakeClock,
        capsys: pytest.CaptureFixture[str]) -> None:
    scopes = setup_block("scoped-importer")
    page = run(block_before(scopes))  # the UnitOfWork example above it: prints its commit
    builder.services.add_scoped(page.UnitOfWork)
    builder.services.add_transient(page.OrderHandler)
    importer = run(scopes, {"th": th, "OrderHandler": page.OrderHandler})
    builder.services.add_hosted_service(importer.Importer)
    capsys.readouterr()
    with run_host(builder):
        fake_clock.advance(120)  # runs at 0, 60 and 120 s
    assert capsys.readouterr().out == "commit ['imported']\n" * 3


def test_the_stop_report_tells_a_clean_stop(builder: th.HostApplicationBuilder) -> None:
    class Mailer(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            stopping_token.wait()

    block = setup_block("stop-report")
    builder.services.add_hosted_service(Mailer)
    host = builder.build()
    host.start()
    try:
        page = run(block, {"host": host})
    finally:
        host.close()
    assert page.report.clean and page.report.exit_code == 0
    assert page.report.stragglers == () and not page.report.errors
    assert list(page.report.timings) == ["Mailer"]
    assert "stop()" in page.report.reason


def test_use_systemd_tells_systemd_the_host_is_ready_then_stopping(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    systemd = Systemd(str(tmp_path / "notify.sock"))
    monkeypatch.setenv("NOTIFY_SOCKET", systemd.address)
    monkeypatch.chdir(tmp_path)
    try:
        page = run(setup_block("systemd"))
        page.builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
        with page.builder.build():
            systemd.until("READY=1")
        systemd.until("STOPPING=1")
    finally:
        systemd.sock.close()


def test_the_health_endpoint_reports_the_mailer_and_the_database_check(
        builder: th.HostApplicationBuilder, fake_clock: FakeClock) -> None:
    sent: list[float] = []

    class Database:
        def ping(self) -> bool:
            return True

    # The port the page gives is the configuration's to override: a free one here.
    builder.configuration.add_in_memory({"Health:Port": "0", "Health:Host": "127.0.0.1"})
    run(setup_block("health"), {"th": th, "builder": builder, "db": Database(),
                                "send_pending_mail": lambda: sent.append(fake_clock.now())})
    with run_host(builder) as host:
        fake_clock.advance(300)  # the heartbeat is 5 s old at most: within 120 s
        address = host.health_endpoint_address
        assert address is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{address[1]}/health",
                                    timeout=WAIT) as answer:
            assert answer.status == 200
            health = json.load(answer)
    assert len(sent) == 60
    assert health["status"] == "healthy" and health["ready"] is True
    assert health["checks"]["database"] == {"status": "healthy", "error": None}
    assert "Mailer" in health["services"]


def test_a_crashing_mailer_is_restarted_with_backoff(
        fake_clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[float] = []

    class Mailer(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            runs.append(fake_clock.monotonic())
            if len(runs) <= 2:
                raise ConnectionError("mail server unreachable")
            stopping_token.wait()

    monkeypatch.chdir(tmp_path)
    page = run(setup_block("restart-policy"), {"Mailer": Mailer})
    page.builder.services.add_instance(th.Clock, fake_clock)
    page.builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    host = page.builder.build()
    host.start()
    fake_clock.advance(10)
    report = host.stop()
    host.close()
    # Backoff 1 s then 2 s, each jittered by up to 10 %.
    assert len(runs) == 3
    assert 0.9 <= runs[1] - runs[0] <= 1.1 and 1.8 <= runs[2] - runs[1] <= 2.2
    assert report.restarts == {"Mailer": 2} and report.clean


def test_time_stands_still_while_the_test_holds_it() -> None:
    clock = FakeClock(autojump=True)
    handled: list[tuple[str, float]] = []

    class Worker(th.BackgroundService):
        def __init__(self) -> None:
            self.jobs: th.Queue[str] = th.Queue(clock)

        def execute(self, stopping_token: th.CancellationToken) -> None:
            while True:
                try:
                    job = self.jobs.get(timeout=60, cancellation_token=stopping_token)
                except th.OperationCanceledError:
                    return
                except queue.Empty:  # a quiet minute
                    continue
                handled.append((job, clock.monotonic()))

    worker = Worker()
    builder = th.Host.create_application_builder([])
    builder.services.add_instance(th.Clock, clock)
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.services.add_hosted_service(worker)
    block = setup_block("fake-clock-hold")
    host = builder.build()
    try:
        run(block, {"clock": clock, "host": host, "queue_under_test": worker.jobs,
                    "first_job": "job 1", "deadline": th.CancellationTokenSource(clock)})
        assert handled == [("job 1", 0.0)]  # taken before any virtual time passed
        assert clock.monotonic() == 3600.0
        assert host.stop().clean
    finally:
        host.close()
