"""A real HTTP client for a host's health endpoint, and a host that has one."""

from __future__ import annotations

import http.client
import socket

import threadhost as th
from tests._services import WAIT, make_builder
from threadhost.testing import FakeClock


class Waits(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()


class Probe:
    """A real HTTP/1.0 client for one host's endpoint."""

    def __init__(self, host: th.Host) -> None:
        address = host.health_endpoint_address
        assert address is not None
        self.host, self.port = address

    def get(self, path: str, method: str = "GET") -> tuple[int, str, dict[str, str]]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=WAIT)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, response.read().decode(), dict(response.getheaders())
        finally:
            conn.close()

    def raw(self, data: bytes) -> bytes:
        """Send raw bytes, half-close, and read the whole answer."""
        with socket.create_connection((self.host, self.port), timeout=WAIT) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def endpoint_host(clock: FakeClock, *services: object, **options: object) -> th.Host:
    builder = make_builder(*services, clock=clock, **options)
    builder.use_health_endpoint(port=0)
    return builder.build()
