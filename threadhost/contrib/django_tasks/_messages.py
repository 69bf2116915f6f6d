"""The log events of the Django tasks worker (its threads, its heartbeat, its database), one named
function each (as .NET's LoggerExtensions classes: each area keeps its own beside its code; the
host's are in ``threadhost._log_messages``).

Templates use lazy ``%s`` arguments; the logger is ``threadhost.tasks``. Every call goes through
a ``GuardedLogger``, so a failing handler never raises here.
"""

from __future__ import annotations

from threadhost._guarded_log import GuardedLogger

tasks_log = GuardedLogger("threadhost.tasks")


def task_worker_started(worker_id: str, queues: str, threads: int) -> None:
    tasks_log.info("Task worker %s started: queues %s, %d threads.", worker_id, queues, threads)


def task_database_unreachable(worker_id: str, error: BaseException) -> None:
    tasks_log.warning("Task worker %s cannot reach the database (%s: %s); retrying.",
                      worker_id, type(error).__name__, error)


def task_database_back(worker_id: str) -> None:
    tasks_log.info("Task worker %s reaches the database again.", worker_id)


def task_failed_unexpectedly(task_id: str, exc: BaseException) -> None:
    tasks_log.error("Task id=%s failed unexpectedly (its task could not be loaded).", task_id,
                    exc_info=exc)


def task_result_dropped(task_id: str, worker_id: str) -> None:
    tasks_log.warning(
        "Task id=%s: its result was not recorded, the task is no longer claimed by worker %s "
        "(it was given back to the queue while this worker was presumed dead).", task_id,
        worker_id)


def stale_tasks_given_back(worker_ids: list[str], task_ids: list[str], stale_after: float
                           ) -> None:
    tasks_log.warning(
        "Task workers %s sent no heartbeat for %ss: presumed dead; %d task(s) they were "
        "running given back to the queue: %s.", ", ".join(worker_ids), stale_after,
        len(task_ids), ", ".join(task_ids) or "none")


def task_worker_presumed_dead(worker_id: str) -> None:
    tasks_log.warning(
        "Task worker %s: its heartbeat row is gone (another worker presumed it dead and gave "
        "its tasks back); writing it again.", worker_id)


def task_straggler(service: str, task_id: str, task_path: str, thread_name: str) -> None:
    tasks_log.error(
        "Service %r: task id=%s (%s) is still running at the shutdown deadline on thread %r; "
        "it stays claimed by this worker while its thread runs it.", service, task_id,
        task_path, thread_name)
