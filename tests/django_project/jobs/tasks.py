"""The test tasks. Each records its run in ``TaskRun`` (so a test counts runs per task)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from django.db import connection
from django_tasks import task

from jobs.models import TaskRun
from threadhost.contrib.django_tasks import current_task_token

RELEASE_FILE = os.environ.get("JOBS_RELEASE_FILE", "")


def _say(line: str) -> None:
    """One line on stdout in one write (print() from two threads can interleave)."""
    os.write(1, f"{line}\n".encode())


def _record(context: Any) -> int:
    result = context.task_result
    attempt = len(result.worker_ids)
    TaskRun.objects.create(task_id=str(result.id), attempt=attempt,
                           worker_id=result.worker_ids[-1],
                           thread=threading.current_thread().name)
    return attempt


@task(takes_context=True)
def record(context: Any, n: int) -> int:
    """Records its run and returns ``n``."""
    _record(context)
    return n


@task(takes_context=True)
def record_slow(context: Any, n: int) -> int:
    """``record``, then 5 ms of waiting (as on the network): threads overlap, so a worker
    killed mid-run is running several tasks."""
    _record(context)
    threading.Event().wait(0.005)
    return n


@task(takes_context=True, queue_name="other")
def record_other(context: Any, n: int) -> int:
    """``record`` on the queue ``other``."""
    _record(context)
    return n


@task(takes_context=True)
def fail(context: Any, message: str) -> None:
    """Records its run and raises ValueError(message)."""
    _record(context)
    raise ValueError(message)


@task()
def trivial() -> int:
    """Does nothing (the benchmark's task)."""
    return 1


@task()
def connection_pid() -> int:
    """The PostgreSQL backend pid of this thread's connection (which connection ran it)."""
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


@task(takes_context=True)
def hold(context: Any) -> str:
    """First run: records, prints ``holding <id>``, then waits until the file
    JOBS_RELEASE_FILE exists or its token is cancelled. Later runs: records and returns."""
    attempt = _record(context)
    if attempt > 1:
        return f"attempt {attempt}"
    _say(f"holding {context.task_result.id}")
    token = current_task_token()
    while not Path(RELEASE_FILE).exists():
        if token.wait(0.02):
            return "cancelled"
    return "released"


@task(takes_context=True)
def stubborn(context: Any) -> str:
    """Records, prints ``stubborn <id>``, then ignores its token for a minute."""
    _record(context)
    _say(f"stubborn {context.task_result.id}")
    threading.Event().wait(60)
    return "late"
