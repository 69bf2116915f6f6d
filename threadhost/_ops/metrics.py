"""Prometheus metrics for ``GET /metrics`` (the optional ``metrics`` extra: prometheus-client).

One ``CollectorRegistry`` per host, holding one collector that reads the host's service slots
at scrape time, so a scrape shows the state as it is, costs nothing between scrapes, and two
hosts in one process never share (or clash over) metric names. prometheus-client writes the
exposition format; nothing here formats text.

Metrics, each labelled ``service=NAME``:

* ``threadhost_service_state`` (gauge): one sample per state of ``ServiceState`` with an extra
  ``state`` label, 1 for the state the service is in and 0 for the others (the
  kube-state-metrics convention for enums: ``max by (service) (...{state="failed"})`` alerts);
* ``threadhost_service_restarts_total``, ``threadhost_service_failures_total`` (counters);
* ``threadhost_queue_depth`` (gauge): items waiting, for each ``QueuedHostedService``;
* ``threadhost_periodic_runs_total`` (counter): runs made, for each
  ``PeriodicBackgroundService``;
* ``threadhost_schedule_misfires_total`` (counter): fire times skipped, and
  ``threadhost_schedule_next_fire_timestamp_seconds`` (gauge, Unix time), for each schedule
  (``CronBackgroundService``);
* ``threadhost_stop_duration_seconds`` (gauge, host clock): how long the service's last stop
  took, once a stop of it has happened.

Services of the layers above (``threadhost.contrib.django_tasks``) add their own families by
putting a callable in ``slot.context["metrics"]`` that yields ``(family, "gauge" or "counter",
help, labels, value)`` tuples; it is called on the scraping thread and must never block.

Rejected: module-level ``Gauge``/``Counter`` objects in the default registry (updated from the
services' threads on every change: a cost on the hot path, and a second host in the process,
such as the test suite's, would raise "Duplicated timeseries"); a text format written by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from threadhost._hosting.states import ServiceState
from threadhost._schedules.service import SCHEDULE_KEY, ScheduleStatus

if TYPE_CHECKING:
    from prometheus_client.core import Metric
    from prometheus_client.registry import Collector

    from threadhost._ops.endpoint import MetricsRenderer
    from threadhost._ops.health import HealthMonitor

_STATES = tuple(ServiceState)


def metrics_renderer(monitor: HealthMonitor) -> MetricsRenderer | None:
    """A function rendering the host's metrics, or None without prometheus-client."""
    try:
        from prometheus_client import (  # noqa: PLC0415  (optional dependency)
            CONTENT_TYPE_LATEST,
            generate_latest,
        )
        from prometheus_client.registry import CollectorRegistry  # noqa: PLC0415
    except ImportError:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(cast("Collector", _Collector(monitor)))  # a Collector by duck typing

    def render() -> tuple[bytes, str]:
        return generate_latest(registry), CONTENT_TYPE_LATEST

    return render


class _Collector:
    """Reads the slots on each scrape (prometheus-client calls ``collect`` on the scraping
    thread). Lock-free reads only: a scrape never waits for a service."""

    def __init__(self, monitor: HealthMonitor) -> None:
        self._monitor = monitor

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import (  # noqa: PLC0415
            CounterMetricFamily,
            GaugeMetricFamily,
        )
        state = GaugeMetricFamily("threadhost_service_state",
                                  "1 for the state each hosted service is in, else 0",
                                  labels=["service", "state"])
        restarts = CounterMetricFamily("threadhost_service_restarts",
                                       "Restarts of each hosted service", labels=["service"])
        failures = CounterMetricFamily("threadhost_service_failures",
                                       "Errors each hosted service survived",
                                       labels=["service"])
        depth = GaugeMetricFamily("threadhost_queue_depth",
                                  "Work items waiting in each QueuedHostedService's queue",
                                  labels=["service"])
        runs = CounterMetricFamily("threadhost_periodic_runs",
                                   "Runs made by each PeriodicBackgroundService",
                                   labels=["service"])
        misfires = CounterMetricFamily("threadhost_schedule_misfires",
                                       "Fire times each schedule skipped (missed by more than "
                                       "misfire_grace)", labels=["service"])
        next_fire = GaugeMetricFamily("threadhost_schedule_next_fire_timestamp_seconds",
                                      "Each schedule's next fire time (Unix time)",
                                      labels=["service"])
        stop = GaugeMetricFamily("threadhost_stop_duration_seconds",
                                 "Seconds (host clock) the last stop of each service took",
                                 labels=["service"])
        extra: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        registry = self._monitor._registry
        for slot in registry.slots if registry is not None else ():
            contributed = slot.context.get("metrics")
            if callable(contributed):
                for family, kind, text, labels, value in contributed():
                    metric = extra.get(family)
                    if metric is None:
                        make = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
                        metric = extra[family] = make(family, text, labels=list(labels))
                    metric.add_metric(list(labels.values()), value)
            name, current = slot.name, slot.state
            for each in _STATES:
                state.add_metric([name, each.value], 1.0 if each is current else 0.0)
            restarts.add_metric([name], slot.restarts)
            failures.add_metric([name], slot.failures)
            queue_depth = slot.queue_depth
            if queue_depth is not None:
                depth.add_metric([name], queue_depth())
            periodic = slot.periodic_runs
            if periodic is not None:
                runs.add_metric([name], periodic)
            schedule = slot.context.get(SCHEDULE_KEY)
            if isinstance(schedule, ScheduleStatus):
                misfires.add_metric([name], schedule.misfires)
                upcoming = schedule.next_fire
                if upcoming is not None:
                    next_fire.add_metric([name], upcoming.timestamp())
            stopped_in = slot.stop_duration
            if stopped_in is not None:
                stop.add_metric([name], stopped_in)
        yield from (state, restarts, failures, depth, runs, misfires, next_fire)
        if stop.samples:
            yield stop
        yield from extra.values()
