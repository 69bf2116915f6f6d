"""What a ``TaskWorker`` does to the database: claim, record, heartbeat, give back, count.

The claim is the backend's own, as ``django-tasks-db``'s ``db_worker`` makes it: in one
transaction (``exclusive_transaction``: ``BEGIN EXCLUSIVE`` on SQLite), the first ready task
of the backend and queues in the backend's order, ``SELECT ... FOR UPDATE SKIP LOCKED``
(``DBTaskResultQuerySet.get_locked``), marked RUNNING by ``DBTaskResult.claim`` (which appends
the worker id to ``worker_ids``). One difference: ``may_claim()`` is asked inside the
transaction, after the row is locked and before it is marked, so a stop that began while the
worker waited for the lock claims nothing (the transaction is rolled back).

Recording is the backend's too (``set_successful``/``set_failed`` set the same fields to the
same values), with a fence: the row is updated only while it is still RUNNING under this
claim (``started_at`` unchanged). A task given back to the queue while its worker was presumed
dead, and claimed again, is not overwritten by the first worker's late result; the late
result is dropped and logged. (Rejected: calling ``set_successful`` itself, an unconditional
``save()`` that lets a worker thought dead overwrite a later run's result.)

Waits between retries go through the host's clock. Only "database is locked" (SQLite, MySQL)
is retried on the claim, as ``db_worker`` does; any other database error goes up to the
worker, which logs it and tries again after ``poll_interval``.
"""

from __future__ import annotations

import datetime
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import DatabaseError, OperationalError, connections, transaction
from django.db.models import Count, Min
from django.db.models.functions import Now
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from threadhost._time.clock import Clock
from threadhost.contrib.django_tasks.models import WorkerHeartbeat

T = TypeVar("T")
TaskRow = DBTaskResult[Any, Any]

RECORD_ATTEMPTS = 3
RECORD_BACKOFF = 0.1
"""Seconds (host clock) between two attempts to record a result (the backend retries 3 times
after 0.1 s too): a locked SQLite database is the usual cause."""

_RESULT_FIELDS = ("status", "return_value", "finished_at", "exception_class_path",
                  "traceback")


def _connect(alias: str) -> None:
    """Open the calling thread's connection to ``alias`` if it is closed, before
    ``exclusive_transaction`` sets the SQLite transaction mode: a connection opened inside
    it reads its settings again and forgets the mode, so the claim would begin a deferred
    transaction, and its UPDATE would fail at once with "database is locked" whenever another
    connection writes (no busy wait for a lock upgrade). Found with 1 thread losing a
    ``poll_interval`` several times a second to it under ``CONN_MAX_AGE = 0``."""
    connections[alias].ensure_connection()


def kept_connection(write: Callable[[], object]) -> None:
    """``write()`` on the calling thread's open connections; if that fails and one of them
    turns out lost (the server may drop an idle connection; Django may have replaced it while
    rolling back), once more on new ones. Raises DatabaseError. (Not retried while they are
    intact: a "database is locked" that waited out SQLite's timeout would wait twice.)"""
    kept = [(c, c.connection) for c in connections.all(initialized_only=True)
            if c.connection is not None]
    try:
        write()
    except DatabaseError:
        if all(c.connection is raw and c.is_usable() for c, raw in kept):
            raise  # nothing was kept (a fresh connection failed), or nothing was lost
        connections.close_all()
        write()


@dataclass(frozen=True)
class QueueCounts:
    """What the database holds for a worker's backend and queues, at one moment."""

    ready: dict[str, int] = field(default_factory=dict)  # queue -> tasks ready to run now
    running: int = 0  # tasks RUNNING, claimed by any worker
    oldest_ready: datetime.datetime | None = None  # enqueued_at of the oldest ready task


class TaskStore:
    """The database side of one ``TaskWorker``: its backend, queues and worker id.

    Every method runs on the calling thread with that thread's own Django connection (Django
    keeps one per thread), blocks until the database answered, and raises ``DatabaseError``
    when it cannot. Thread-safe in that sense: it keeps no state of its own.
    """

    def __init__(self, backend: str, queues: Sequence[str], worker_id: str,
                 clock: Clock) -> None:
        self.backend = backend
        self.queues = list(queues)
        self.worker_id = worker_id
        self.clock = clock
        # The filters that never change, built once (building filters is most of a claim's
        # Python time); ready() adds the two that depend on now.
        self._mine = DBTaskResult.objects.filter(backend_name=backend,
                                                 queue_name__in=self.queues)

    def _ready(self) -> Any:
        return self._mine.ready()

    # -- tasks -----------------------------------------------------------------------------

    def claim(self, may_claim: Callable[[], bool]) -> TaskRow | None:
        """Claim the next ready task (see the module notes); None when there is none, when
        the database is locked (SQLite: another worker claims), or when ``may_claim()`` said
        no once the row was locked."""
        tasks = self._ready()
        try:
            _connect(tasks.db)
            with exclusive_transaction(tasks.db):
                result: TaskRow | None = tasks.get_locked()
                if result is None:
                    return None
                if not may_claim():
                    transaction.set_rollback(True, using=tasks.db)
                    return None
                result.claim(self.worker_id)
                return result
        except OperationalError as exc:
            if is_locked_database_exception(exc):
                return None
            raise

    def record_success(self, result: TaskRow, value: object) -> bool:
        """Mark ``result`` SUCCESSFUL with ``value`` as its return value, as
        ``DBTaskResult.set_successful`` does; False if the task is no longer ours (nothing
        written). Raises what encoding ``value`` raises (TypeError for a value JSON cannot
        hold), so the caller records a failure instead, as ``db_worker`` does."""
        result.status = TaskResultStatus.SUCCESSFUL
        result.finished_at = timezone.now()
        result.return_value = value
        result.exception_class_path = ""
        result.traceback = ""
        return self._write_if_ours(result)

    def record_failure(self, result: TaskRow, exc: BaseException) -> bool:
        """Mark ``result`` FAILED with ``exc``'s class path and traceback, as
        ``DBTaskResult.set_failed`` does; False if the task is no longer ours."""
        result.status = TaskResultStatus.FAILED
        result.finished_at = timezone.now()
        result.exception_class_path = f"{type(exc).__module__}.{type(exc).__qualname__}"
        result.traceback = "".join(traceback.format_exception(exc))
        result.return_value = None
        return self._write_if_ours(result)

    def _write_if_ours(self, result: TaskRow) -> bool:
        values = {name: getattr(result, name) for name in _RESULT_FIELDS}
        mine = DBTaskResult.objects.filter(pk=result.pk, status=TaskResultStatus.RUNNING,
                                           started_at=result.started_at)
        updated: int = self._retry(lambda: mine.update(**values))
        return updated == 1

    def _retry(self, write: Callable[[], T]) -> T:
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                return write()
            except DatabaseError:
                if attempt == RECORD_ATTEMPTS:
                    raise
                self.clock.sleep(RECORD_BACKOFF)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- heartbeats ------------------------------------------------------------------------

    def register(self, hostname: str, pid: int) -> None:
        """Write this worker's heartbeat row (created, or renewed if it is there)."""
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={"hostname": hostname, "pid": pid, "backend_name": self.backend,
                      "queues": ",".join(self.queues), "started_at": Now(), "beat_at": Now(),
                      "stopping": False})

    def beat(self, *, stopping: bool) -> bool:
        """Stamp this worker's row with the database's time; False if the row is gone (another
        worker presumed this one dead and gave its tasks back)."""
        rows = WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(
            beat_at=Now(), stopping=stopping)
        return bool(rows)

    def unregister(self) -> None:
        """Delete this worker's row (it ends with no task left running)."""
        WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()

    def give_back_stale(self, stale_after: float) -> tuple[list[str], list[str]]:
        """Give back to the queue (status READY) every RUNNING task of this backend whose last
        claim was made by a worker whose heartbeat is older than ``stale_after`` seconds of the
        database's clock, and delete those workers' rows. Returns (worker ids, task ids).

        One transaction; rows other workers hold locked are skipped (the next tick sees them).
        Tasks claimed by workers without a row (``db_worker``'s) are never touched."""
        cutoff = Now() - datetime.timedelta(seconds=stale_after)
        _connect(DBTaskResult.objects.db)
        with exclusive_transaction(DBTaskResult.objects.db):
            dead = set(WorkerHeartbeat.objects.select_for_update(skip_locked=True)
                       .filter(beat_at__lt=cutoff).values_list("worker_id", flat=True))
            if not dead:
                return [], []
            running = (DBTaskResult.objects.running().filter(backend_name=self.backend)
                       .select_for_update(skip_locked=True).order_by()
                       .values_list("pk", "worker_ids"))
            orphans = [pk for pk, workers in running if workers and workers[-1] in dead]
            if orphans:
                DBTaskResult.objects.filter(pk__in=orphans,
                                            status=TaskResultStatus.RUNNING).update(
                    status=TaskResultStatus.READY)
            WorkerHeartbeat.objects.filter(worker_id__in=dead).delete()
        return sorted(dead), [str(pk) for pk in orphans]

    # -- numbers ---------------------------------------------------------------------------

    def counts(self) -> QueueCounts:
        """Ready tasks per queue (every queue of the worker listed, 0 included), RUNNING tasks
        of the backend and queues, and the oldest ready task's ``enqueued_at``."""
        ready = dict.fromkeys(self.queues, 0)
        oldest: datetime.datetime | None = None
        rows = (self._ready().order_by().values("queue_name")
                .annotate(n=Count("pk"), oldest=Min("enqueued_at")))
        for row in rows:
            ready[row["queue_name"]] = row["n"]
            if row["oldest"] is not None and (oldest is None or row["oldest"] < oldest):
                oldest = row["oldest"]
        running = DBTaskResult.objects.running().filter(
            backend_name=self.backend, queue_name__in=self.queues).count()
        return QueueCounts(ready, running, oldest)
