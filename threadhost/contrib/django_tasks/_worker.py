"""``TaskWorker``: runs the tasks of Django's Tasks framework from the database backend.

Shape, as ``QueuedHostedService``: ``start`` spawns ``threads`` worker threads and one
heartbeat thread through the service's slot (the host accounts for them, reports a thread still
running at the deadline as a straggler) and returns at once; ``stop`` waits for them within the
deadline.

* A worker thread claims one ready task at a time (``TaskStore.claim``: the backend's own
  ``SELECT ... FOR UPDATE SKIP LOCKED``), runs it as ``db_worker`` does (``task_started``, the
  call, with a ``TaskContext`` if the task takes one, ``task_finished``), records the result or
  the failure with its traceback, and goes on. No task is claimed once the host's stop has
  begun (the check is made inside the claim's transaction); a task being run goes on until the
  deadline, when its token (``current_task_token()``) is cancelled. A thread still running a
  task then is a straggler whose thread name carries the task id, and an ERROR names the task.
* While it runs a task, a worker thread is named ``threadhost:<service>:<n> task=<id>``: the
  host's straggler report and any stack dump say which task is stuck, at no cost to look up.
* The heartbeat thread registers the worker's row before any thread claims (so no claim is
  ever made by a worker that others cannot see die), stamps it every tick (``poll_interval``,
  at most a quarter of ``stale_after``) while the worker runs and during the drain, gives
  back the tasks of workers whose row is older than ``stale_after``, and refreshes the numbers
  the health and the metrics read (so a scrape never queries the database). It deletes the
  row when the workers have ended, unless the deadline passed with a task still running.
* Database errors never end a thread: they are logged once per change (unreachable, back)
  and retried every ``poll_interval``; a result that cannot be written is retried until it is
  written or the deadline passes (the task then stays claimed, and is given back once this
  worker's heartbeats stop).
* Connections: each worker thread calls Django's ``close_old_connections()`` after each task
  and each idle poll (the connection is closed unless ``CONN_MAX_AGE`` asks to keep it, or if
  it is broken: Django's request cycle does the same) and closes all its connections when it
  ends. The heartbeat thread keeps its one connection for the worker's life (it writes every
  tick); after a database error it closes it, and a tick that failed on it is tried at once on
  a new one (the server may have dropped it while idle). On SQLite that open connection also
  spares each task a WAL checkpoint: the last connection to close a WAL database checkpoints
  it and deletes the WAL, as each task's close did before (1 thread: x1.03 of ``db_worker``
  before, x1.70 after; ``benchmarks/bench_django_tasks.py``).

Rejected: one task thread per process (``db_worker``); a pool that claims a batch and hands it
to threads (a SIGKILL would strand the whole batch, and a slow task would hold the others
back); keeping worker threads' connections between tasks (``CONN_MAX_AGE`` decides that);
running tasks on the claim's transaction (a long task would hold a row lock and a
connection in a transaction for its whole run).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import secrets
import socket
import threading
from collections.abc import Sequence
from typing import Any, final

from django.db import DatabaseError, close_old_connections, connections

from threadhost._errors import ConfigurationError
from threadhost._hosting.deadline import deadline_of
from threadhost._hosting.hosted_service import HostedService
from threadhost._hosting.registry import standalone_slot
from threadhost._hosting.slot import current_slot
from threadhost._ops.health import HealthStatus
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource, wait_any
from threadhost.contrib.django_tasks import _messages as messages
from threadhost.contrib.django_tasks._run import Run, local, send_finished
from threadhost.contrib.django_tasks._stats import TaskWorkerStats, metric_samples


@final
class TaskWorker(HostedService):
    """Runs ready tasks of a ``django-tasks-db`` backend on ``threads`` threads.

    Options (checked here, ConfigurationError naming the option): ``queues`` (the queue names
    served), ``threads`` (tasks run at once; each holds one database connection while it runs
    a task), ``backend`` (the alias in ``settings.TASKS``; must be a
    ``django_tasks_db.DatabaseBackend``, checked at start), ``poll_interval`` (seconds, host
    clock, an idle thread waits before it looks again), ``stale_after`` (seconds, database
    clock: a worker whose heartbeat is older is presumed dead and its tasks are given back).

    ``start`` returns at once (the database is first reached on the worker's threads); ``stop``
    blocks until the threads have ended or its token (the deadline) is cancelled. Runs once.
    ``stats()`` and ``health()`` may be called from any thread and never block.
    """

    def __init__(self, *, queues: Sequence[str] = ("default",), threads: int = 4,
                 backend: str = "default", poll_interval: float = 1.0,
                 stale_after: float = 60.0) -> None:
        if isinstance(queues, str) or not queues or not all(
                isinstance(q, str) and 0 < len(q) <= 32 for q in queues):
            raise ConfigurationError(
                f"TaskWorker(queues={queues!r}) is invalid: expected a non-empty list of queue "
                "names of 1 to 32 characters, e.g. queues=['default']")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigurationError(
                f"TaskWorker(threads={threads!r}) is invalid: expected an int >= 1")
        if not isinstance(backend, str) or not backend:
            raise ConfigurationError(
                f"TaskWorker(backend={backend!r}) is invalid: expected the alias of a backend "
                "in settings.TASKS, e.g. 'default'")
        for name, value in (("poll_interval", poll_interval), ("stale_after", stale_after)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    0 < value < math.inf):
                raise ConfigurationError(
                    f"TaskWorker({name}={value!r}) is invalid: expected seconds > 0")
        self.queues = tuple(queues)
        self.threads = threads
        self.backend = backend
        self.poll_interval = float(poll_interval)
        self.stale_after = float(stale_after)
        self.worker_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._run: Run | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def check_backend(self) -> None:
        """Raise ConfigurationError unless ``backend`` names a ``django-tasks-db`` backend in
        ``settings.TASKS``. Any thread, once Django's apps are loaded."""
        from django_tasks_db.backend import DatabaseBackend  # noqa: PLC0415  (apps are ready)
        from django_tasks_db.compat import InvalidTaskBackend, task_backends  # noqa: PLC0415
        try:
            backend = task_backends[self.backend]
        except InvalidTaskBackend as exc:
            raise ConfigurationError(
                f"TaskWorker(backend={self.backend!r}): no such backend in settings.TASKS "
                f"({exc})") from exc
        if not isinstance(backend, DatabaseBackend):
            raise ConfigurationError(
                f"TaskWorker(backend={self.backend!r}) is a {type(backend).__name__}: expected "
                "a django_tasks_db.DatabaseBackend (set settings.TASKS[...]['BACKEND'] to "
                "'django_tasks_db.DatabaseBackend')")

    def start(self, cancellation_token: CancellationToken) -> None:
        """Check the backend, then start the heartbeat thread and the worker threads; returns
        at once (on a host thread). Raises ConfigurationError for a backend that is not a
        ``django-tasks-db`` one, RuntimeError if started twice."""
        from threadhost.contrib.django_tasks._store import TaskStore  # noqa: PLC0415
        self.check_backend()
        name = type(self).__name__
        with self._lock:
            if self._run is not None:
                raise RuntimeError(f"Cannot start {name}: it runs only once.")
            slot = current_slot() or standalone_slot(name, cancellation_token.clock)
            clock = slot.clock
            draining = CancellationTokenSource(clock)
            run = self._run = Run(
                slot, TaskStore(self.backend, self.queues, self.worker_id, clock), clock,
                draining, CancellationTokenSource.create_linked(draining.token,
                                                                slot.registry.stopping),
                CancellationTokenSource(clock), CancellationTokenSource(clock),
                CancellationTokenSource(clock), live_workers=self.threads)
        slot.heartbeat()
        slot.queue_depth = self._queue_depth
        slot.context["metrics"] = functools.partial(metric_samples, slot.name, self.stats)
        slot.on_ask = functools.partial(self._ask, run)
        slot.spawn(lambda: self._beat(run), f"threadhost:{slot.name}:heartbeat")
        for index in range(self.threads):
            slot.spawn(lambda: self._work(run), f"threadhost:{slot.name}:{index}")
        messages.task_worker_started(self.worker_id, ",".join(self.queues), self.threads)

    def stop(self, cancellation_token: CancellationToken) -> None:
        """Claim no more; wait until the running tasks end or ``cancellation_token`` (the
        deadline) fires; then cancel the tasks' tokens and name each task still running.
        Called on a host thread; idempotent."""
        run = self._run
        if run is None:
            return
        run.draining.cancel()
        if threading.current_thread() in run.slot.live_threads():
            return  # a task of ours stops the host: it cannot wait for itself
        ended = run.slot.ended_token()
        deadline = deadline_of(cancellation_token)
        done = (deadline.wait(ended) if deadline is not None
                else wait_any([ended, cancellation_token]))
        if not done:
            self._abandon(run)

    def _ask(self, run: Run) -> None:
        """``ServiceSlot.on_ask``: the stop of this service was not made or was abandoned.
        Claim no more and cancel the tasks' tokens; never blocks, runs no user code."""
        run.draining.cancel()
        self._abandon(run)

    def _abandon(self, run: Run) -> None:
        if run.abandoned.is_cancellation_requested:
            return
        run.abandoned.cancel()  # no callback of ours; a task's own runs on this thread
        with run.lock:
            running = [(t.name, task) for t, task in run.running.items()]
        for thread_name, (task_id, path) in running:
            messages.task_straggler(run.slot.name, task_id, path, thread_name)

    # -- the threads -----------------------------------------------------------------------

    def _work(self, run: Run) -> None:
        """A worker thread: claim, run, record, until the stop."""
        stop = run.stop.token
        try:
            if not wait_any([run.registered.token, stop]) or stop.is_cancellation_requested:
                return
            while not stop.is_cancellation_requested:
                try:
                    result = run.store.claim(lambda: not stop.is_cancellation_requested)
                except DatabaseError as exc:
                    self._database_failed(run, exc)
                    stop.wait(self.poll_interval)
                    continue
                self._database_fine(run)
                if result is None:
                    run.slot.heartbeat()
                    close_old_connections()
                    stop.wait(self.poll_interval)
                    continue
                self._execute(run, result)
                close_old_connections()
                run.slot.heartbeat()
        except BaseException as exc:  # the loop itself failed: the service has failed
            run.slot.run_ended(exc, stop_requested=stop.is_cancellation_requested)
        finally:
            connections.close_all()
            with run.lock:
                run.live_workers -= 1
                last = run.live_workers == 0
            if last:
                run.workers_done.cancel()

    def _execute(self, run: Run, result: Any) -> None:
        """Run one claimed task as ``db_worker`` does and record how it ended."""
        from django.core.exceptions import SuspiciousOperation  # noqa: PLC0415
        from django_tasks_db.compat import (  # noqa: PLC0415
            TaskContext,
            task_finished,
            task_started,
        )
        me = threading.current_thread()
        name, task_id = me.name, str(result.pk)
        with run.lock:
            run.running[me] = (task_id, result.task_path)
        me.name = f"{name} task={task_id}"
        local.token = run.abandoned.token
        failure: BaseException | None = None
        value: object = None
        try:
            try:
                task = result.task
                task_result = result.task_result
                sender = task.get_backend()
                task_started.send(sender=sender, task_result=task_result)
                if task.takes_context:
                    value = task.call(TaskContext(task_result=task_result),
                                      *task_result.args, **task_result.kwargs)
                else:
                    value = task.call(*task_result.args, **task_result.kwargs)
            except BaseException as exc:  # a task's failure, whatever it is, is recorded
                failure = exc
            ours: bool | None = None
            if failure is None:
                try:  # database errors are retried inside; what comes out is the value's
                    ours = self._record(run, lambda: run.store.record_success(result, value))
                except Exception as exc:  # the value could not be stored (not JSON)
                    failure = exc
            if failure is not None:
                ours = self._record(run, lambda: run.store.record_failure(result, failure))
            if ours is None:
                return  # abandoned before the result could be written: it stays claimed
            if not ours:
                messages.task_result_dropped(task_id, self.worker_id)
                return
            with run.lock:
                if failure is None:
                    run.succeeded += 1
                else:
                    run.failed += 1
            if failure is not None:
                run.slot.count_failure(failure)
            try:
                finished = result.task_result
                sender = type(result.task.get_backend()) if failure is not None else sender
            except (ImportError, SuspiciousOperation) as exc:
                messages.task_failed_unexpectedly(task_id, exc)
            else:
                send_finished(task_finished, sender, finished, failure)
        finally:
            local.token = None
            me.name = name
            with run.lock:
                run.running.pop(me, None)

    def _record(self, run: Run, write: Any) -> bool | None:
        """``write()`` until the database takes it; None if the deadline passed first."""
        while True:
            try:
                ours: bool = write()
            except DatabaseError as exc:
                self._database_failed(run, exc)
                if run.abandoned.token.wait(self.poll_interval):
                    return None
                continue
            self._database_fine(run)
            return ours

    def _beat(self, run: Run) -> None:
        """The heartbeat thread: register, stamp, give back the dead's tasks, count."""
        from threadhost.contrib.django_tasks._store import (  # noqa: PLC0415
            QueueCounts,
            kept_connection,
        )
        tick = min(self.poll_interval, self.stale_after / 4)
        host, pid = socket.gethostname(), os.getpid()
        ended = [run.workers_done.token, run.abandoned.token]
        try:
            while True:
                try:
                    kept_connection(lambda: self._tick(run, host, pid))
                except DatabaseError as exc:
                    self._database_failed(run, exc)
                    run.counts = run.counts or QueueCounts()
                if wait_any(ended, tick):
                    break
            if run.registered.is_cancellation_requested and (
                    not run.abandoned.is_cancellation_requested):
                kept_connection(run.store.unregister)
        except DatabaseError as exc:
            self._database_failed(run, exc)
        finally:
            run.stop.close()
            connections.close_all()

    def _tick(self, run: Run, host: str, pid: int) -> None:
        """Register or stamp this worker, give back the dead's tasks, count. Raises
        DatabaseError."""
        store = run.store
        if not run.registered.is_cancellation_requested:
            store.register(host, pid)
            run.registered.cancel()
        elif not store.beat(stopping=run.stop.is_cancellation_requested):
            messages.task_worker_presumed_dead(self.worker_id)
            store.register(host, pid)
        dead, tasks = store.give_back_stale(self.stale_after)
        if dead:
            messages.stale_tasks_given_back(dead, tasks, self.stale_after)
            with run.lock:
                run.given_back += len(tasks)
        run.counts = store.counts()
        self._database_fine(run)

    # -- health and numbers ----------------------------------------------------------------

    def _database_failed(self, run: Run, exc: BaseException) -> None:
        with run.lock:
            first = run.db_error is None
            run.db_error = f"{type(exc).__name__}: {exc}"
        if first:
            messages.task_database_unreachable(self.worker_id, exc)
        with contextlib.suppress(DatabaseError):
            connections.close_all()  # a broken connection is not reused

    def _database_fine(self, run: Run) -> None:
        if run.db_error is None:  # lock-free look: the common case
            return
        with run.lock:
            was, run.db_error = run.db_error, None
        if was is not None:
            messages.task_database_back(self.worker_id)

    def _queue_depth(self) -> int:
        counts = self._run.counts if self._run is not None else None
        return sum(counts.ready.values()) if counts is not None else 0

    def stats(self) -> TaskWorkerStats:
        """This worker's numbers now (queue figures as of the last heartbeat tick). Any
        thread; never blocks on the database."""
        run = self._run
        if run is None:
            return TaskWorkerStats(self.worker_id)
        counts = run.counts
        with run.lock:
            running, succeeded, failed = len(run.running), run.succeeded, run.failed
            given_back, error = run.given_back, run.db_error
        oldest = None
        if counts is not None and counts.oldest_ready is not None:
            oldest = max(0.0, (run.clock.now() - counts.oldest_ready).total_seconds())
        return TaskWorkerStats(
            self.worker_id, dict(counts.ready) if counts is not None else {},
            counts.running if counts is not None else 0, running, succeeded, failed,
            given_back, oldest, run.stop.is_cancellation_requested, error)

    def health(self) -> HealthStatus:
        """DEGRADED while the database cannot be reached, else HEALTHY (a health check:
        ``services.add_health_check("tasks", worker.health)``). Any thread; never blocks."""
        run = self._run
        return HealthStatus.DEGRADED if run is not None and run.db_error else HealthStatus.HEALTHY

    def __repr__(self) -> str:
        run = self._run
        state = "created" if run is None else (
            "stopping" if run.stop.is_cancellation_requested else "running")
        return (f"<TaskWorker {self.worker_id} queues={','.join(self.queues)} "
                f"threads={self.threads} {state}>")
