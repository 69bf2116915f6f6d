"""Django tasks: tasks per second of ``threadhost_tasks`` beside django-tasks-db's ``db_worker``.

N trivial tasks (``jobs.tasks.trivial``: returns 1) are enqueued into a fresh database of the
test project (tests/django_project, settings ``settings_tasks``), then one worker process runs
them all:

* baseline: ``manage.py db_worker --batch --no-startup-delay --no-reload`` (django-tasks-db's
  own worker: one task at a time per process);
* ``manage.py threadhost_tasks --threads 1`` and ``--threads 4`` (stopped with SIGTERM once
  every task has finished).

Throughput is N divided by the span from the first task's ``started_at`` to the last one's
``finished_at`` (both written by the worker as it claims and records, so process start-up and
Django's import are left out for both). Each configuration runs REPEAT times, interleaved,
each on a database of its own on the same server; medians are printed with the ratio to
``db_worker`` (higher is better). The connection settings are Django's defaults unless
``--conn-max-age`` is given (both workers then keep connections that long).

Run: python benchmarks/bench_django_tasks.py [--tasks 2000] [--repeat 3]
[--db postgres,sqlite] [--conn-max-age SECONDS]
(PostgreSQL is a throwaway server started as the tests do; it is skipped, with a line saying so,
where no server binaries are installed.)
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.contrib._pg_server import PostgresServer, find_bindir, poll_until  # noqa: E402
from tests.contrib._tasks_project import TASKS, TasksProject  # noqa: E402

WORKERS = {
    "db_worker": ("db_worker", "--batch", "--no-startup-delay", "--no-reload"),
    "threadhost 1 thread": ("threadhost_tasks", "--threads", "1"),
    "threadhost 4 threads": ("threadhost_tasks", "--threads", "4"),
}


@contextlib.contextmanager
def database_server(kind: str) -> Iterator[PostgresServer | None]:
    if kind == "sqlite":
        yield None
        return
    bindir = find_bindir()
    if bindir is None:
        raise LookupError("no PostgreSQL server binaries (initdb, pg_ctl) found")
    with PostgresServer(bindir) as server:
        yield server


def as_datetime(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def one_run(server: PostgresServer | None, command: tuple[str, ...], tasks: int,
            conn_max_age: str | None) -> float:
    """Tasks per second of one worker process over ``tasks`` fresh trivial tasks."""
    project = TasksProject(Path(tempfile.mkdtemp(prefix="bench-tasks-")), server,
                           f"bench_{uuid.uuid4().hex[:12]}")
    if conn_max_age is not None:
        project.env["THREADHOST_TEST_CONN_MAX_AGE"] = conn_max_age
    project.enqueue("trivial", tasks)
    with project.manage(*command, merge_stderr=True) as app:
        poll_until(lambda: project.finished() == tasks, timeout=600, interval=0.2,
                   what=f"{tasks} tasks finished by {command[0]}")
        if command[0] == "threadhost_tasks":
            app.send(signal.SIGTERM)
        code = app.wait(60)
        assert code == 0, app.output()
    [(first, last)] = project.query(f"SELECT MIN(started_at), MAX(finished_at) FROM {TASKS}")
    return tasks / (as_datetime(last) - as_datetime(first)).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default="postgres,sqlite")
    parser.add_argument("--conn-max-age", default=None)
    args = parser.parse_args()
    print(f"{args.tasks} trivial tasks, one worker process, median of {args.repeat} runs "
          f"(CONN_MAX_AGE={args.conn_max_age or 'Django default 0'})")
    for kind in args.db.split(","):
        try:
            with database_server(kind) as server:
                rates: dict[str, list[float]] = {name: [] for name in WORKERS}
                for _ in range(args.repeat):
                    for name, command in WORKERS.items():
                        rates[name].append(one_run(server, command, args.tasks,
                                                   args.conn_max_age))
        except LookupError as exc:
            print(f"{kind}: skipped ({exc})")
            continue
        base = statistics.median(rates["db_worker"])
        print(f"\n{kind}:")
        for name, values in rates.items():
            median = statistics.median(values)
            print(f"  {name:<22} {median:8.0f} tasks/s   x{median / base:5.2f} of db_worker"
                  f"   (runs: {', '.join(f'{v:.0f}' for v in values)})")


if __name__ == "__main__":
    main()
