"""The probe endpoint: ``/healthz``, ``/readyz``, ``/health`` and ``/metrics`` over HTTP.

``HealthEndpoint`` is a hosted service that the builder registers *first*
(``use_health_endpoint`` / ``Health:Port``), so it listens before any other service starts. It
binds in ``starting`` (the first hook of the start plan; a port in use fails the start with
``HostStartupError`` naming the address) and closes from the host's ``StopChannel.on_stopped``
hook, which the host runs after the whole stop plan: probes keep answering while the services stop
(``/readyz`` says 503 from the moment a stop is requested), and a start that fails before this
service's ``start`` returned still closes it.

Server: the standard library's ``ThreadingHTTPServer`` machinery (parsing, status lines) with a
thread per connection, ``threadhost:health:request``, and an accept loop of our own on
``threadhost:health-endpoint``. A thread per connection because one slow or silent client (a
half-open connection, a port scanner) must never hold up the kubelet's probes, and ``/health``
may wait up to 1 s for custom checks; each connection is dropped after ``REQUEST_TIMEOUT`` real
seconds of silence. The accept loop waits on the listening socket and a wake-up socket pair, so
closing is immediate (``serve_forever`` would poll, and its ``shutdown()`` waits out a poll
interval). At close, connections still open are shut down and their threads get
``CLOSE_LIMIT`` real seconds to end, and never more than the stop's budget leaves (its grace):
the close is a wait of the stop like any other. A thread still in a health check after that
is a daemon and ends by itself within the check limit. HTTP/1.0, one request per connection:
probes do not reuse connections, and it keeps the close bounded.

Rejected: a single-threaded server (one silent client blocks every probe: a liveness failure
caused by the prober); ``serve_forever`` + ``shutdown()`` (a polling loop, and a stop that waits
half a second for nothing); a hand-written HTTP parser (``http.server`` already rejects
malformed requests); aiohttp or another dependency (runtime deps stay injector and
python-json-logger).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import selectors
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, final
from urllib.parse import urlsplit

from threadhost._hosting.channel import StopChannel
from threadhost._hosting.deadline import Deadline
from threadhost._hosting.hosted_service import HostedLifecycleService
from threadhost._ops import messages
from threadhost._ops.health import HealthMonitor, HealthStatus
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource
from threadhost._time.clock import SYSTEM_CLOCK

if TYPE_CHECKING:
    pass

REQUEST_TIMEOUT = 5.0
"""Real seconds a connection may stay silent before it is dropped."""

CLOSE_LIMIT = 0.5
"""Real seconds the close waits for requests under way (their sockets are already shut)."""

MetricsRenderer = Callable[[], tuple[bytes, str]]
"""Renders the metrics now: (body, content type)."""


class _Server(http.server.ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` whose accept loop and request threads we run ourselves."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # a burst of probes is queued, not refused
    timeout = 0  # handle_request() never blocks: our selector has just said "readable"

    def __init__(self, address: tuple[str, int], monitor: HealthMonitor,
                 metrics: MetricsRenderer | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.socket.setblocking(False)  # a connection reset between select and accept
        self.monitor = monitor
        self.metrics = metrics
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()  # guarded by _lock: connections being served
        self._closing = False  # guarded by _lock
        self._idle = CancellationTokenSource(SYSTEM_CLOCK)  # cancelled: closing, none open
        self._wake_r, self._wake_w = socket.socketpair()
        self._loop: threading.Thread | None = None

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host's FQDN (a DNS lookup at start, for a
        # name nothing here uses).
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(
            self.server_address[1])

    def open(self) -> None:
        self._loop = threading.Thread(target=self._accept, name="threadhost:health-endpoint",
                                      daemon=True)
        self._loop.start()

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ, "accept")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while True:
                events = selector.select()
                if any(key.data == "wake" for key, _ in events):
                    return
                self.handle_request()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            refused = self._closing
            if not refused:
                self._open.add(request)
        if refused:
            self.shutdown_request(request)
            return
        threading.Thread(target=self._serve, args=(request, client_address),
                         name="threadhost:health:request", daemon=True).start()

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception as exc:  # a request never stops the server
            self.handle_error_of(client_address, exc)
        finally:
            self.shutdown_request(request)
            with self._lock:
                self._open.discard(request)
                idle = self._closing and not self._open
            if idle:
                self._idle.cancel()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Errors in accept/verify (socketserver's hook): log, go on."""
        exc = sys.exception()
        if exc is not None:
            self.handle_error_of(client_address, exc)

    def handle_error_of(self, client_address: Any, exc: BaseException) -> None:
        if not isinstance(exc, ConnectionError | TimeoutError):
            messages.health_request_failed(_client(client_address), exc)

    def close(self, limit: float = CLOSE_LIMIT) -> None:
        """Stop accepting, shut open connections, wait ``limit`` real seconds at most for their
        threads. Idempotent; any thread but the server's own."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            still_open = list(self._open)
            if not still_open:
                self._idle.cancel()
        self._wake_w.send(b"x")
        if self._loop is not None:
            self._loop.join()  # it only accepts (non-blocking) and hands over: a short wait
        self.server_close()
        for conn in still_open:
            with contextlib.suppress(OSError):  # already closed by its thread
                conn.shutdown(socket.SHUT_RDWR)
        self._idle.token.wait(limit)
        self._wake_r.close()
        self._wake_w.close()


def _client(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


class _Handler(http.server.BaseHTTPRequestHandler):
    """One request. Runs on its connection's thread."""

    server: _Server
    protocol_version = "HTTP/1.0"
    default_request_version = "HTTP/1.0"  # so even a garbage line gets a status line back
    server_version = "threadhost"
    sys_version = ""
    timeout = REQUEST_TIMEOUT

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        monitor = self.server.monitor
        if path == "/healthz":
            status = monitor.status()
            self._reply(503 if status is HealthStatus.UNHEALTHY else 200, status.value + "\n")
        elif path == "/readyz":
            ready = monitor.ready()
            self._reply(200 if ready else 503, "ready\n" if ready else "not ready\n")
        elif path == "/health":
            report = monitor.report()
            body = json.dumps(report.to_dict(), indent=2) + "\n"
            self._reply(503 if report.status is HealthStatus.UNHEALTHY else 200, body,
                        "application/json")
        elif path == "/metrics" and self.server.metrics is not None:
            data, content_type = self.server.metrics()
            self._reply(200, data, content_type)
        else:
            self._not_found()

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>; every method but GET is a request we do not know:
        # 404, not http.server's 501.
        if name.startswith("do_"):
            return self._not_found
        raise AttributeError(name)

    def _not_found(self) -> None:
        self._reply(404, f"not found: {self.command} {urlsplit(self.path).path}\n"
                         "try GET /healthz, /readyz, /health or /metrics\n")

    def _reply(self, status: int, body: str | bytes,
               content_type: str = "text/plain; charset=utf-8") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        # http.server answers an over-long line 414, too many headers 431, HTTP/2 505: to a
        # probe endpoint all of them are malformed requests, 400.
        if code in (414, 431, 501, 505):
            code = 400
        super().send_error(code, message, explain)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        messages.health_request(_client(self.client_address), self.requestline, int(code)
                           if isinstance(code, int) else 0)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # errors are logged by log_request; http.server would print to stderr


@final
class HealthEndpoint(HostedLifecycleService):
    """threadhost's probe server as a hosted service (internal: registered by the builder).

    ``starting`` binds and starts serving (on the host's starting thread; raises
    OSError naming the address when it cannot listen, which fails the start); the server is
    closed by the host's ``StopChannel.on_stopped`` hook, after every other service has stopped,
    within the stop's budget.
    """

    def __init__(self, monitor: HealthMonitor, channel: StopChannel, host: str,
                 port: int, metrics: MetricsRenderer | None) -> None:
        self._monitor = monitor
        self._channel = channel
        self._address = (host, port)
        self._metrics = metrics
        self._server: _Server | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """The bound (host, port) once listening; None before."""
        server = self._server
        if server is None:
            return None
        return (self._address[0], int(server.server_address[1]))

    def starting(self, cancellation_token: CancellationToken) -> None:
        host, port = self._address
        try:
            server = _Server((host, port), self._monitor, self._metrics)
        except OSError as exc:
            raise OSError(exc.errno, f"the health endpoint cannot listen on "
                                     f"http://{host}:{port}: {exc.strerror or exc}") from exc
        self._server = server
        self._channel.on_stopped(self._close_within)
        server.open()
        bound = self.address
        assert bound is not None
        self._monitor.endpoint_address = bound
        messages.health_endpoint_listening(*bound)

    def start(self, cancellation_token: CancellationToken) -> None:
        """Nothing: the server listens from ``starting`` on."""

    def stop(self, cancellation_token: CancellationToken) -> None:
        """Nothing: the server closes after the whole stop (see the module notes)."""

    def close(self, limit: float = CLOSE_LIMIT) -> None:
        """Close the server, waiting at most ``limit`` real seconds for open connections'
        threads (idempotent; any thread but the server's)."""
        server = self._server
        if server is not None:
            server.close(limit)
            messages.health_endpoint_stopped(*self._address)

    def _close_within(self, budget: Deadline) -> None:
        """``on_stopped``: the close, within what the stop's budget leaves."""
        self.close(min(CLOSE_LIMIT, budget.grace_left()))

    def __repr__(self) -> str:
        return f"<HealthEndpoint http://{self._address[0]}:{self._address[1]}>"
