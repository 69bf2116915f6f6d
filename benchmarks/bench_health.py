"""host.health() on a 1000-service host, and /readyz requests per second, beside baselines.

1. ``host.health()`` with SERVICES running BackgroundServices (no custom check): the median of
   CALLS calls, and as a ratio to building a plain dict of SERVICES entries (name → a 5-tuple,
   the same shape of data) in the same run. Ratio = health / dict (lower is better).
2. ``GET /readyz`` on the health endpoint under a local load: REQUESTS requests from CLIENTS
   threads, a new HTTP/1.0 connection each (as a prober does), beside a bare
   ``http.server.ThreadingHTTPServer`` answering ``/readyz`` with a constant 200 under the same
   load in the same run. Ratio = threadhost / baseline requests per second (1.0 is parity).

Loopback only (127.0.0.1), bounded in count; it stops by itself.

Run: python benchmarks/bench_health.py [--services 1000] [--calls 200] [--requests 400]
     [--clients 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import logging
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import threadhost as th


class Idle(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()


def build(services: int, endpoint: bool) -> th.Host:
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.logging.clear_providers()
    for _ in range(services):
        builder.services.add_hosted_service(Idle())
    if endpoint:
        builder.use_health_endpoint(port=0)
    return builder.build()


def median_seconds(call: object, calls: int) -> float:
    timings = []
    for _ in range(calls):
        began = time.perf_counter()
        call()  # type: ignore[operator]
        timings.append(time.perf_counter() - began)
    return statistics.median(timings)


def bench_report(services: int, calls: int) -> tuple[float, float]:
    host = build(services, endpoint=False)
    host.start()
    try:
        assert len(host.health().services) == services
        health = median_seconds(host.health, calls)
    finally:
        host.stop()
        host.close()
    names = [f"Idle#{i}" for i in range(services)]

    def plain_dict() -> dict[str, tuple[str, int, int, None, float]]:
        return {name: ("running", 0, 0, None, 0.5) for name in names}

    return health, median_seconds(plain_dict, calls)


def load(port: int, requests: int, clients: int) -> float:
    """Requests per second of GET /readyz; every answer must be 200."""
    def one(_: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/readyz")
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    with ThreadPoolExecutor(clients) as pool:
        began = time.perf_counter()
        statuses = list(pool.map(one, range(requests)))
        took = time.perf_counter() - began
    assert statuses == [200] * requests, set(statuses)
    return requests / took


class _Bare(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ready\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _BareServer(http.server.ThreadingHTTPServer):
    request_queue_size = 256  # the same listen backlog as the endpoint's
    daemon_threads = True


def bench_readyz(requests: int, clients: int) -> tuple[float, float]:
    host = build(10, endpoint=True)
    host.start()
    try:
        address = host.health_endpoint_address
        assert address is not None
        ours = load(address[1], requests, clients)
    finally:
        host.stop()
        host.close()
    server = _BareServer(("127.0.0.1", 0), _Bare)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    try:
        bare = load(server.server_address[1], requests, clients)
    finally:
        server.shutdown()
        server.server_close()
        serving.join()
    return ours, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    reports = [bench_report(args.services, args.calls) for _ in range(args.repeat)]
    health = statistics.median(r[0] for r in reports)
    plain = statistics.median(r[1] for r in reports)
    print(f"host.health(), {args.services} services: median {health * 1e3:.3f} ms; "
          f"plain dict of {args.services}: {plain * 1e6:.1f} us; ratio {health / plain:.1f}x")
    rates = [bench_readyz(args.requests, args.clients) for _ in range(args.repeat)]
    ours = statistics.median(r[0] for r in rates)
    bare = statistics.median(r[1] for r in rates)
    print(f"GET /readyz, {args.requests} requests from {args.clients} clients: "
          f"{ours:,.0f} req/s; bare http.server: {bare:,.0f} req/s; ratio {ours / bare:.2f}")


if __name__ == "__main__":
    main()
