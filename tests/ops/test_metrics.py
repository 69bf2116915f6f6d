"""/metrics through a real HTTP client: prometheus-client's output of the host's slots."""

from __future__ import annotations

import sys

import pytest

import threadhost as th
from tests._probe import Probe, Waits, endpoint_host
from tests._services import make_builder, stop_within
from threadhost._ops.health import HealthMonitor
from threadhost._ops.metrics import metrics_renderer
from threadhost.testing import FakeClock


class Ticks(th.PeriodicBackgroundService):
    interval = 10.0

    def run_once(self, stopping_token: th.CancellationToken) -> None:
        pass


def test_metrics_are_served_by_prometheus_client(fake_clock: FakeClock) -> None:
    queue = th.BackgroundTaskQueue(5)
    builder = make_builder(Waits, Ticks, clock=fake_clock)
    builder.services.add_instance(th.BackgroundTaskQueue, queue)
    builder.services.add_hosted_service(th.QueuedHostedService)
    builder.use_health_endpoint(port=0)
    host = builder.build()
    host.start()
    fake_clock.advance(25)
    status, body, headers = Probe(host).get("/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    lines = set(body.splitlines())
    assert 'threadhost_service_state{service="Waits",state="running"} 1.0' in lines
    assert 'threadhost_service_state{service="Waits",state="failed"} 0.0' in lines
    assert 'threadhost_service_restarts_total{service="Waits"} 0.0' in lines
    assert 'threadhost_service_failures_total{service="Waits"} 0.0' in lines
    assert 'threadhost_queue_depth{service="QueuedHostedService"} 0.0' in lines
    assert 'threadhost_periodic_runs_total{service="Ticks"} 3.0' in lines
    assert "# TYPE threadhost_stop_duration_seconds gauge" not in lines  # no stop yet
    stop_within(host)
    host.close()


def test_stop_durations_are_exposed_once_a_stop_has_happened(fake_clock: FakeClock) -> None:
    host = make_builder(Waits, clock=fake_clock).build()
    render = metrics_renderer(host.services.get(HealthMonitor))
    assert render is not None
    host.start()
    stop_within(host)
    body = render()[0].decode()
    assert 'threadhost_stop_duration_seconds{service="Waits"} 0.0' in body.splitlines()
    host.close()


def test_without_prometheus_client_metrics_is_404(fake_clock: FakeClock,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails, as uninstalled
    host = endpoint_host(fake_clock)
    host.start()
    assert Probe(host).get("/metrics")[0] == 404
    stop_within(host)
    host.close()


def test_two_hosts_in_one_process_keep_their_own_metrics(fake_clock: FakeClock) -> None:
    first, second = endpoint_host(fake_clock, Waits), endpoint_host(fake_clock, Ticks)
    first.start()
    second.start()
    assert 'service="Waits"' in Probe(first).get("/metrics")[1]
    assert 'service="Waits"' not in Probe(second).get("/metrics")[1]
    stop_within(second)
    stop_within(first)
    first.close()
    second.close()


def test_a_scrape_during_the_stop_sees_the_stop_duration_of_each_service_already_stopped(
        fake_clock: FakeClock) -> None:
    scraped: list[str] = []

    class ScrapesWhenStopped(th.HostedService):
        render: object = None

        def start(self, cancellation_token: th.CancellationToken) -> None:
            pass

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            assert callable(self.render)
            scraped.append(self.render()[0].decode())

    scraper = ScrapesWhenStopped()
    host = make_builder(scraper, Waits, clock=fake_clock).build()  # Waits stops first
    scraper.render = metrics_renderer(host.services.get(HealthMonitor))
    host.start()
    stop_within(host)
    host.close()
    [body] = scraped
    assert 'threadhost_stop_duration_seconds{service="Waits"} 0.0' in body.splitlines()
