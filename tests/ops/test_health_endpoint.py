"""The probe endpoint, through a real HTTP client on loopback: routes, status codes, malformed
requests, many requests at once, port 0, a port in use, configuration, and its place in the
lifecycle (/metrics: test_metrics.py)."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import socket
import threading

import pytest

import threadhost as th
from tests._probe import Probe, Waits, endpoint_host
from tests._services import WAIT, make_builder, stop_within
from threadhost.testing import FakeClock


def test_port_zero_binds_a_free_port_exposed_and_logged(fake_clock: FakeClock,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "threadhost.hosting.health")
    host = endpoint_host(fake_clock, Waits)
    assert host.health_endpoint_address is None
    host.start()
    address = host.health_endpoint_address
    assert address is not None and address[0] == "127.0.0.1" and address[1] > 0
    assert f"Health endpoint listening on http://127.0.0.1:{address[1]}" in caplog.messages
    stop_within(host)
    host.close()


def test_probes_answer_200_when_healthy_and_ready(fake_clock: FakeClock) -> None:
    host = endpoint_host(fake_clock, Waits)
    host.start()
    probe = Probe(host)
    assert probe.get("/healthz")[:2] == (200, "healthy\n")
    assert probe.get("/readyz")[:2] == (200, "ready\n")
    status, body, headers = probe.get("/health")
    assert status == 200 and headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert (data["status"], data["ready"]) == ("healthy", True)
    assert list(data["services"]) == ["HealthEndpoint", "Waits"]
    assert data["services"]["Waits"]["state"] == "running"
    assert probe.get("/readyz?verbose=1")[0] == 200  # the query is ignored
    stop_within(host)
    host.close()


def test_unhealthy_makes_healthz_readyz_and_health_answer_503(fake_clock: FakeClock) -> None:
    builder = make_builder(Waits, clock=fake_clock)
    builder.services.add_health_check("db", lambda: False)
    builder.use_health_endpoint(port=0)
    host = builder.build()
    host.start()
    probe = Probe(host)
    assert probe.get("/healthz")[:2] == (503, "unhealthy\n")
    assert probe.get("/readyz")[:2] == (503, "not ready\n")
    status, body, _ = probe.get("/health")
    assert status == 503
    assert json.loads(body)["checks"] == {"db": {"status": "unhealthy", "error": None}}
    stop_within(host)
    host.close()


def test_degraded_is_still_alive_and_ready(fake_clock: FakeClock) -> None:
    builder = make_builder(Waits, clock=fake_clock)
    builder.services.add_health_check("cache", lambda: th.HealthStatus.DEGRADED)
    builder.use_health_endpoint(port=0)
    host = builder.build()
    host.start()
    probe = Probe(host)
    assert probe.get("/healthz")[:2] == (200, "degraded\n")
    assert probe.get("/readyz")[0] == 200
    assert probe.get("/health")[0] == 200
    stop_within(host)
    host.close()


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/healthz/"), ("GET", "/nope"), ("POST", "/healthz"),
    ("DELETE", "/readyz"), ("PUT", "/health"), ("BREW", "/healthz")])
def test_anything_else_is_404(fake_clock: FakeClock, method: str, path: str) -> None:
    host = endpoint_host(fake_clock)
    host.start()
    status, body, _ = Probe(host).get(path, method)
    assert status == 404
    assert body.startswith(f"not found: {method} {path}")
    stop_within(host)
    host.close()


def test_head_gets_the_status_without_a_body(fake_clock: FakeClock) -> None:
    host = endpoint_host(fake_clock)
    host.start()
    status, body, _ = Probe(host).get("/healthz", "HEAD")
    assert (status, body) == (404, "")
    stop_within(host)
    host.close()


@pytest.mark.parametrize("request_bytes", [
    b"garbage\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\n\r\n",
    b"GET /healthz HTTP/1.1 extra\r\n\r\n",
    b"GET /" + b"a" * 70_000 + b" HTTP/1.0\r\n\r\n",
    b"GET /healthz HTTP/1.0\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
    b"\xff\xfe\x00\x01 binary\r\n\r\n",
], ids=["no-version", "http-9", "extra-word", "line-too-long", "too-many-headers", "binary"])
def test_a_malformed_request_gets_400_and_the_server_goes_on(fake_clock: FakeClock,
                                                             request_bytes: bytes) -> None:
    host = endpoint_host(fake_clock)
    host.start()
    probe = Probe(host)
    answer = probe.raw(request_bytes)
    assert answer.startswith(b"HTTP/1.0 400 "), answer[:100]
    assert probe.get("/healthz")[0] == 200
    stop_within(host)
    host.close()


def test_silent_and_vanishing_clients_never_stop_the_server(fake_clock: FakeClock) -> None:
    host = endpoint_host(fake_clock)
    host.start()
    probe = Probe(host)
    assert probe.raw(b"") == b""  # connected, sent nothing, hung up
    silent = socket.create_connection((probe.host, probe.port), timeout=WAIT)
    try:
        assert probe.get("/readyz")[0] == 200  # a silent client holds no probe up
    finally:
        silent.close()
    stop_within(host)
    host.close()


def test_a_silent_connection_open_at_stop_does_not_hold_the_stop(fake_clock: FakeClock) -> None:
    host = endpoint_host(fake_clock)
    host.start()
    probe = Probe(host)
    silent = socket.create_connection((probe.host, probe.port), timeout=WAIT)
    try:
        assert probe.get("/healthz")[0] == 200  # the silent one has been accepted by now
        assert stop_within(host).clean
        assert silent.recv(1) == b""  # the server shut it
    finally:
        silent.close()
    host.close()


def test_many_requests_at_once_all_get_answers(fake_clock: FakeClock) -> None:
    host = endpoint_host(fake_clock, Waits)
    host.start()
    probe = Probe(host)
    paths = ["/healthz", "/readyz", "/health", "/nope"] * 75
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda p: probe.get(p)[0], paths))
    assert statuses == [200, 200, 200, 404] * 75
    stop_within(host)
    host.close()


def test_a_port_in_use_fails_start_naming_the_address(
        fake_clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "threadhost.hosting")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        builder = make_builder(Waits, clock=fake_clock)
        builder.use_health_endpoint(port=port)
        host = builder.build()
        with pytest.raises(th.HostStartupError,
                           match=rf"HealthEndpoint.*cannot listen on http://127\.0\.0\.1:{port}"):
            host.start()
        host.close()
    # The ERROR line carries the cause in itself, not only in the attached traceback.
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert error == (f"Service 'HealthEndpoint' failed in starting: OSError: [Errno 98] the "
                     f"health endpoint cannot listen on http://127.0.0.1:{port}: Address "
                     "already in use; stopping the services already started."), error


def test_health_port_in_configuration_turns_the_endpoint_on(fake_clock: FakeClock) -> None:
    host = make_builder(Waits, clock=fake_clock, args=["--Health:Port=0"]).build()
    host.start()
    assert Probe(host).get("/healthz")[0] == 200
    stop_within(host)
    host.close()


def test_configuration_wins_over_use_health_endpoint_arguments(fake_clock: FakeClock) -> None:
    builder = make_builder(Waits, clock=fake_clock, args=["--Health:Port=0",
                                                          "--Health:Host=127.0.0.1"])
    builder.use_health_endpoint(port=1, host="localhost")
    host = builder.build()
    host.start()
    assert host.health_endpoint_address is not None
    assert host.health_endpoint_address[0] == "127.0.0.1"
    assert host.health_endpoint_address[1] != 1
    stop_within(host)
    host.close()


@pytest.mark.parametrize("value", ["abc", "-1", "65536", "8080.5", ""])
def test_a_bad_health_port_fails_build_naming_key_and_value(value: str) -> None:
    builder = make_builder(args=[f"--Health:Port={value}"])
    with pytest.raises(th.ConfigurationError,
                       match=rf"^Health:Port={value!r} is invalid: expected a port number"):
        builder.build()


def test_use_health_endpoint_rejects_a_bad_port() -> None:
    builder = make_builder()
    with pytest.raises(ValueError, match=r"^use_health_endpoint\(port\)=70000 is invalid"):
        builder.use_health_endpoint(port=70_000)


class ProbesAtStart(th.HostedService):
    """Probes the endpoint from its own start and stop: it must already (still) listen."""

    def __init__(self) -> None:
        self.host: th.Host | None = None
        self.seen: list[tuple[str, int]] = []

    def _probe(self, phase: str) -> None:
        assert self.host is not None
        probe = Probe(self.host)
        self.seen += [(f"{phase} /healthz", probe.get("/healthz")[0]),
                      (f"{phase} /readyz", probe.get("/readyz")[0])]

    def start(self, cancellation_token: th.CancellationToken) -> None:
        self._probe("start")

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        self._probe("stop")


def test_the_endpoint_listens_before_services_start_and_after_they_stop(
        fake_clock: FakeClock) -> None:
    prober = ProbesAtStart()
    host = endpoint_host(fake_clock, prober)  # registered first, yet the endpoint comes first
    prober.host = host
    host.start()
    probe = Probe(host)
    assert stop_within(host).clean
    assert prober.seen == [("start /healthz", 200), ("start /readyz", 503),
                           ("stop /healthz", 200), ("stop /readyz", 503)]
    with pytest.raises(ConnectionRefusedError):
        probe.get("/healthz")
    host.close()


def test_a_start_that_fails_still_closes_the_endpoint(fake_clock: FakeClock) -> None:
    class FailsToStart(th.HostedLifecycleService):
        def starting(self, cancellation_token: th.CancellationToken) -> None:
            raise RuntimeError("no")

        def start(self, cancellation_token: th.CancellationToken) -> None:
            pass

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            pass

    host = endpoint_host(fake_clock, FailsToStart)
    with pytest.raises(th.HostStartupError):
        host.start()
    address = host.health_endpoint_address
    assert address is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=WAIT).close()
    host.close()


def test_readyz_turns_503_the_moment_a_stop_is_requested_during_the_drain(
        fake_clock: FakeClock) -> None:
    host = endpoint_host(fake_clock, Waits, shutdown_delay=5.0, shutdown_timeout=30.0)
    host.start()
    probe = Probe(host)
    app = host.services.get(th.HostApplicationLifetime)
    assert probe.get("/readyz")[0] == 200
    app.stop_application()
    assert probe.get("/readyz")[0] == 503
    assert probe.get("/healthz")[0] == 200  # alive: the services keep running
    fake_clock.advance(5.0)
    stop_within(host)
    host.close()


def test_requests_run_on_threads_the_stop_ends(fake_clock: FakeClock) -> None:
    host = endpoint_host(fake_clock)
    host.start()
    Probe(host).get("/healthz")
    stop_within(host)
    host.close()
    names = [t.name for t in threading.enumerate()]
    assert "threadhost:health-endpoint" not in names
