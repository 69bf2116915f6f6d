"""The heartbeat table of task workers: one row per running ``TaskWorker`` (one per process).

Chosen: a table of our own, ``threadhost_tasks_worker``, one row per worker process, keyed by
the worker id that the claim writes into ``DBTaskResult.worker_ids``. A worker updates its
row's ``beat_at`` (the database's clock, ``Now()``) every tick while it runs and during the
drain, and deletes it when it ends with nothing left running. The link from a task to its
worker is already there: the last entry of the task's ``worker_ids`` is whoever claimed it
last. So a task is stale when it is RUNNING and its last worker's row is older than
``stale_after``; any live worker gives such tasks back (status READY) and deletes the row.

Rejected:

* a column on ``DBTaskResult`` (a ``heartbeat_at`` per task): the table belongs to
  ``django-tasks-db``, whose migrations would fight ours, and every running task would cost one
  write per tick instead of one per process;
* workers' own clocks for the stamps: machines disagree; the database's ``Now()`` is the one
  clock every worker shares, so ``stale_after`` is measured on the database server's clock;
* a dead worker's tasks marked FAILED: the task never ended, and nothing says it cannot run
  again; giving it back runs it at most once more, which is what a SIGKILL costs.
"""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):  # type: ignore[misc]  # Django ships no type hints
    """One running ``TaskWorker``: who it is, where it runs and when it last showed life."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    backend_name = models.CharField(max_length=32)
    queues = models.TextField()  # comma-separated, for people reading the table
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)
    stopping = models.BooleanField(default=False)  # True once its stop began (the drain)

    class Meta:
        db_table = "threadhost_tasks_worker"
        verbose_name = "task worker"

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.hostname}:{self.pid})"
