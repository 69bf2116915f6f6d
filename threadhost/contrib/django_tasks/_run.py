"""The state of one run of a ``TaskWorker``, and what a task sees of it.

``Run`` is everything the worker's threads share (tokens, counters, the running tasks) with
the lock that guards it; ``current_task_token()`` is the task's view of the stop;
``send_finished`` sends ``task_finished`` as ``db_worker`` does. Kept apart from ``_worker``
so that module holds the threads' logic only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threadhost._hosting.slot import ServiceSlot
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource
from threadhost._time.clock import Clock

if TYPE_CHECKING:
    from threadhost.contrib.django_tasks._store import QueueCounts, TaskStore

local = threading.local()  # .token: the token of the task running on this thread


def current_task_token() -> CancellationToken:
    """The token of the task running on the calling thread: cancelled when the host's
    shutdown deadline passes, so a long task can stop early (and leave the queue a result).
    ``CancellationToken.NONE`` outside a task run by a ``TaskWorker``. Any thread; never
    blocks."""
    token: CancellationToken | None = getattr(local, "token", None)
    return token if token is not None else CancellationToken.NONE


@dataclass
class Run:
    """One run of a TaskWorker. Written by ``start`` before any thread starts, except where a
    field says otherwise."""

    slot: ServiceSlot
    store: TaskStore
    clock: Clock
    draining: CancellationTokenSource  # this worker's own stop (stop() or on_ask)
    stop: CancellationTokenSource  # draining or the host's stop begun: claim no more
    abandoned: CancellationTokenSource  # the deadline passed: the tasks' token
    registered: CancellationTokenSource  # the heartbeat row is written: claims may begin
    workers_done: CancellationTokenSource  # every worker thread has ended
    lock: threading.Lock = field(default_factory=threading.Lock)
    live_workers: int = 0  # guarded by lock
    running: dict[threading.Thread, tuple[str, str]] = field(default_factory=dict)  # guarded
    # by lock: thread -> (task id, task path) of the task it runs
    succeeded: int = 0  # guarded by lock
    failed: int = 0  # guarded by lock
    given_back: int = 0  # guarded by lock
    counts: QueueCounts | None = None  # written by the heartbeat thread; one-reference reads
    db_error: str | None = None  # guarded by lock: the last database error, None once fine



def send_finished(signal: Any, sender: object, task_result: object,
              failure: BaseException | None) -> None:
    """Send ``task_finished``; for a failure, while it is being handled (as ``db_worker``
    does), so receivers that log with ``logger.exception`` (django_tasks's own) get its
    traceback."""
    if failure is None:
        signal.send(sender=sender, task_result=task_result)
        return
    try:
        raise failure
    except BaseException:
        signal.send(sender=sender, task_result=task_result)
