"""use_systemd() against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import threadhost as th
from tests._services import WAIT, make_builder, stop_within
from tests._subprocess import App
from threadhost.testing import FakeClock

APP = "tests/apps/systemd_app.py"


class Systemd:
    """The receiving end of NOTIFY_SOCKET."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(WAIT)
        self.address = address
        self.seen: list[str] = []

    def receive(self) -> list[str]:
        lines = self.sock.recv(4096).decode().split("\n")
        self.seen += lines
        return lines

    def until(self, line: str) -> None:
        while line not in self.receive():
            pass


@pytest.fixture(params=["path", "abstract"])
def systemd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Systemd]:
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
    else:
        address = f"@threadhost-test-{os.getpid()}-{id(tmp_path)}"
    receiver = Systemd(address)
    yield receiver
    receiver.sock.close()


def test_ready_watchdog_and_stopping_are_sent(systemd: Systemd) -> None:
    env = {"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "200000"}
    with App(APP, env=env) as app:
        systemd.until("READY=1")
        assert "STATUS=Running" in systemd.seen
        for _ in range(3):
            systemd.until("WATCHDOG=1")
        app.send(signal.SIGTERM)
        systemd.until("STOPPING=1")
        assert app.wait() == 0, app.output()
    assert "STATUS=Stopping: signal SIGTERM" in systemd.seen
    assert systemd.seen.index("READY=1") < systemd.seen.index("WATCHDOG=1")


def test_watchdog_meant_for_another_process_is_not_fed(tmp_path: Path) -> None:
    systemd = Systemd(str(tmp_path / "notify.sock"))
    env = {"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}
    with App(APP, env=env) as app:
        systemd.until("READY=1")
        app.send(signal.SIGTERM)
        systemd.until("STOPPING=1")
        assert app.wait() == 0
    systemd.sock.close()
    assert "WATCHDOG=1" not in systemd.seen


def test_without_notify_socket_nothing_changes() -> None:
    env = {"NOTIFY_SOCKET": "", "JOURNAL_STREAM": ""}
    with App(APP, env=env) as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert not any("systemd" in line.lower() for line in app.stderr)
    assert not any(line.startswith("<") for line in app.stderr)


# Sets JOURNAL_STREAM to the device and inode of the stderr the app inherits, as systemd does.
AS_JOURNAL = ("import os, sys; st = os.fstat(2); "
              "os.environ['JOURNAL_STREAM'] = f'{st.st_dev}:{st.st_ino}'; "
              "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


def test_journal_stream_of_another_file_is_ignored() -> None:
    with App(APP, env={"JOURNAL_STREAM": "8:12345", "NOTIFY_SOCKET": ""}) as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0
    assert not any(line.startswith("<") for line in app.stderr)


def test_journal_stream_switches_logs_to_the_systemd_format() -> None:
    with App("-c", AS_JOURNAL, APP, env={"NOTIFY_SOCKET": ""}) as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0
    assert "<6>threadhost.hosting.lifetime: Application started. Press Ctrl+C to shut down." \
        in app.stderr
    assert all(line.startswith("<") for line in app.stderr)


def test_unreachable_socket_is_logged_once_and_the_host_runs(tmp_path: Path) -> None:
    env = {"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock")}
    with App(APP, env=env) as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert len([line for line in app.stderr if "Cannot notify systemd" in line]) == 1


def test_stopping_extends_systemds_timeout_to_the_deadline_plus_five_seconds(
        systemd: Systemd) -> None:
    env = {"NOTIFY_SOCKET": systemd.address}
    with App(APP, "--HostOptions:ShutdownTimeout=7", env=env) as app:
        systemd.until("READY=1")
        app.send(signal.SIGTERM)
        stopping = systemd.receive()
        while "STOPPING=1" not in stopping:
            stopping = systemd.receive()
        assert app.wait() == 0, app.output()
    assert "EXTEND_TIMEOUT_USEC=12000000" in stopping  # (7 + 5) s in µs, with STOPPING=1


class HangsAfterTen(th.BackgroundService):
    """Heartbeats when the test says so; liveness 10 virtual seconds."""

    liveness_timeout = 10.0

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()


def _datagrams(receiver: Systemd) -> list[str]:
    """Every datagram already in the socket, without waiting."""
    receiver.sock.setblocking(False)
    lines: list[str] = []
    try:
        while True:
            lines += receiver.receive()
    except BlockingIOError:
        pass
    finally:
        receiver.sock.settimeout(WAIT)
    return lines


def test_the_watchdog_is_fed_only_while_the_host_is_not_unhealthy(
        systemd: Systemd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", systemd.address)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # fed every virtual second
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    clock = FakeClock()
    worker = HangsAfterTen()
    builder = make_builder(worker, clock=clock, shutdown_timeout=30.0, shutdown_delay=3.0)
    builder.use_systemd()
    host = builder.build()
    host.start()
    clock.advance(0)
    assert "READY=1" in _datagrams(systemd)
    fed = []
    for _ in range(14):  # 10 s healthy, then hung (strictly older than 10 s)
        clock.advance(1.0)
        fed.append(_datagrams(systemd).count("WATCHDOG=1"))
    assert fed == [1] * 10 + [0] * 4
    worker.heartbeat()  # progress again: fed again at the next interval
    clock.advance(1.0)
    assert _datagrams(systemd).count("WATCHDOG=1") == 1
    # The stop: STOPPING=1 and EXTEND_TIMEOUT_USEC at once, before the drain ends.
    host.services.get(th.HostApplicationLifetime).stop_application()
    clock.advance(0)
    sent = _datagrams(systemd)
    assert "STOPPING=1" in sent and "EXTEND_TIMEOUT_USEC=35000000" in sent
    clock.advance(3.0)
    assert stop_within(host).clean
    host.close()
