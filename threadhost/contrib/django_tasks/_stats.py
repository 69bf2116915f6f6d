"""A task worker's numbers: ``TaskWorkerStats`` and the metric samples made from them.

The queue figures (ready tasks per queue, running tasks, the oldest ready task) come from the
heartbeat thread's last tick, so reading them never queries the database; the counters
(succeeded, failed, given back) are this worker's own, since it started.

Metrics (``GET /metrics`` with the ``metrics`` extra), each labelled ``service=NAME``:
``threadhost_tasks_ready`` (gauge, also labelled ``queue``), ``threadhost_tasks_running``
(gauge: tasks this worker runs now), ``threadhost_tasks_succeeded_total``,
``threadhost_tasks_failed_total``, ``threadhost_tasks_given_back_total`` (counters) and
``threadhost_tasks_oldest_ready_seconds`` (gauge, wall-clock seconds since the oldest ready
task was enqueued; absent while no task is ready). The samples are plain tuples handed to the
host's collector (``_ops/metrics.py``), so this module needs no prometheus-client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

MetricSample = tuple[str, str, str, dict[str, str], float]
"""(family, "gauge" or "counter", help, labels, value)."""


@dataclass(frozen=True)
class TaskWorkerStats:
    """A ``TaskWorker``'s numbers at one moment (see ``TaskWorker.stats``)."""

    worker_id: str
    ready: dict[str, int] = field(default_factory=dict)
    """Tasks ready to run now, per queue served (as of the last heartbeat tick)."""
    running_anywhere: int = 0
    """Tasks RUNNING in the served queues, claimed by any worker (last tick)."""
    running: int = 0
    """Tasks this worker runs now."""
    succeeded: int = 0
    failed: int = 0
    given_back: int = 0
    """Tasks of dead workers this worker gave back to the queue."""
    oldest_ready_age: float | None = None
    """Seconds (wall clock, host clock's ``now()``) since the oldest ready task was enqueued;
    None when none is ready."""
    draining: bool = False
    """True once the stop began: no task is claimed any more."""
    database_error: str | None = None
    """The last database error, while the database cannot be reached."""


def metric_samples(service: str, stats: Callable[[], TaskWorkerStats]) -> Iterator[MetricSample]:
    """The samples of one worker (``slot.context["metrics"]``); called on the scraping thread,
    never blocks."""
    now = stats()
    label = {"service": service}
    for queue, count in sorted(now.ready.items()):
        yield ("threadhost_tasks_ready", "gauge", "Tasks ready to run, per queue",
               {**label, "queue": queue}, float(count))
    yield ("threadhost_tasks_running", "gauge", "Tasks this worker is running", label,
           float(now.running))
    yield ("threadhost_tasks_succeeded", "counter", "Tasks this worker ran successfully", label,
           float(now.succeeded))
    yield ("threadhost_tasks_failed", "counter", "Tasks this worker ran that failed", label,
           float(now.failed))
    yield ("threadhost_tasks_given_back", "counter",
           "Tasks of dead workers this worker gave back to the queue", label,
           float(now.given_back))
    if now.oldest_ready_age is not None:
        yield ("threadhost_tasks_oldest_ready_seconds", "gauge",
               "Seconds since the oldest ready task was enqueued", label, now.oldest_ready_age)
