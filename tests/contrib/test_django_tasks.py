"""TaskWorker and ``manage.py threadhost_tasks`` in a real Django project, on SQLite and on
the throwaway PostgreSQL server.

Each test enqueues tasks with ``manage.py enqueue`` (tests/django_project/jobs), runs the
worker in a subprocess, sends it real signals and reads the database afterwards. The tasks
record every run in ``jobs_taskrun``, so "ran once" is counted, not assumed. The ``hold`` task
waits for a file the test creates, so a task is running exactly when the test needs it.
"""

from __future__ import annotations

import json
import math
import re
import signal
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

import threadhost as th
from tests._services import WAIT
from tests.contrib._pg_server import PostgresServer, poll_until
from tests.contrib._tasks_project import TASKS, TasksProject, task_id, task_ids

FAST = ("--poll-interval", "0.05")


@pytest.fixture
def project(tmp_path: Path) -> TasksProject:
    return TasksProject(tmp_path)


def test_every_task_runs_once_with_its_result_or_failure_recorded(
        project: TasksProject) -> None:
    project.enqueue("record", 150)
    project.enqueue("fail", 10, "boom")
    project.enqueue("record_other", 5)  # queue 'other': not served
    with project.worker("--threads", "4", *FAST) as app:
        poll_until(lambda: project.finished() == 160, timeout=60, what="160 tasks finished")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert project.statuses() == {"SUCCESSFUL": 150, "FAILED": 10, "READY": 5}
    runs = project.runs_per_task()
    assert len(runs) == 160 and set(runs.values()) == {1}
    returned = sorted(json.loads(str(v)) for (v,) in project.query(
        f"SELECT return_value FROM {TASKS} WHERE status = 'SUCCESSFUL'"))
    assert returned == list(range(150))
    failures = project.query(f"SELECT exception_class_path, traceback FROM {TASKS} "
                             "WHERE status = 'FAILED'")
    assert {path for path, _ in failures} == {"builtins.ValueError"}
    assert all(str(tb).rstrip().endswith("ValueError: boom") for _, tb in failures)
    threads = {str(t) for (t,) in project.query("SELECT thread FROM jobs_taskrun")}
    assert all(re.fullmatch(r"threadhost:TaskWorker:[0-3] task=[0-9a-f-]{36}", t)
               for t in threads), threads
    assert project.workers() == []  # a clean stop deletes the worker's heartbeat row


def test_a_worker_serves_only_the_queues_it_is_given(project: TasksProject) -> None:
    project.enqueue("record", 3)
    project.enqueue("record_other", 4)
    with project.worker("--queue", "other", "--threads", "2", *FAST) as app:
        poll_until(lambda: project.finished() == 4, timeout=WAIT, what="4 tasks finished")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert sorted(project.query(f"SELECT queue_name, status, COUNT(*) FROM {TASKS} "
                                "GROUP BY queue_name, status")) == [
        ("default", "READY", 3), ("other", "SUCCESSFUL", 4)]


def test_no_task_is_claimed_once_the_stop_begins_and_running_tasks_finish(
        project: TasksProject) -> None:
    project.enqueue("hold", 3)
    with project.worker("--threads", "2", *FAST) as app:
        held = {app.expect("holding ").split()[-1] for _ in range(2)}
        app.send(signal.SIGTERM)
        app.expect("Application is shutting down")
        # Heartbeats go on during the drain: the row says the worker is stopping.
        poll_until(lambda: [s for _, s in project.workers() if s], timeout=WAIT,
                   what="the heartbeat row marked stopping")
        project.release.touch()
        assert app.wait() == 0, app.output()
    assert project.statuses() == {"SUCCESSFUL": 2, "READY": 1}
    assert set(task_ids(project, "status = 'SUCCESSFUL'")) == held
    assert set(project.runs_per_task()) == held
    [(workers,)] = project.query(f"SELECT worker_ids FROM {TASKS} WHERE status = 'READY'")
    assert json.loads(str(workers)) == []  # never claimed


def test_task_ignoring_its_token_is_a_straggler_named_by_its_task_id_and_exit_code_3(
        project: TasksProject) -> None:
    project.enqueue("stubborn", 1)
    with project.worker("--threads", "2", *FAST, "--HostOptions:ShutdownTimeout=1") as app:
        stuck = app.expect("stubborn ").split()[-1]
        app.send(signal.SIGTERM)
        assert app.wait() == 3, app.output()
    assert stuck == task_id(task_ids(project)[0])
    named = [line for line in app.stdout if "did not finish" in line]
    assert len(named) == 1 and "'threadhost:TaskWorker:" in named[0] and (
        f" task={stuck}'" in named[0]), app.output()
    assert any(f"task id={stuck} (jobs.tasks.stubborn) is still running at the shutdown "
               "deadline" in line for line in app.stdout), app.output()
    assert project.statuses() == {"RUNNING": 1}  # left claimed: its thread still ran it
    assert len(project.workers()) == 1  # the row stays, to go stale: the task is given back


@pytest.mark.parametrize(("args", "message"), [
    (("--threads", "0"), "CommandError: TaskWorker(threads=0) is invalid: expected an int >= 1"),
    (("--backend", "immediate"),
     "CommandError: TaskWorker(backend='immediate') is a ImmediateBackend: expected a "
     "django_tasks_db.DatabaseBackend (set settings.TASKS[...]['BACKEND'] to "
     "'django_tasks_db.DatabaseBackend')"),
    (("--backend", "nope"),
     "CommandError: TaskWorker(backend='nope'): no such backend in settings.TASKS "
     "(The connection 'nope' doesn't exist.)"),
])
def test_bad_option_is_a_one_line_command_error_with_exit_2(
        project: TasksProject, args: tuple[str, ...], message: str) -> None:
    with project.manage("threadhost_tasks", *args) as app:
        assert app.wait() == 2, app.output()
    assert app.stderr == [message]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def sample(metrics: str, name: str) -> float | None:
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_metrics_show_queue_depth_running_and_counts_and_readiness_drops_in_the_drain(
        project: TasksProject) -> None:
    project.enqueue("fail", 1, "boom")
    project.enqueue("record", 2)
    project.enqueue("hold", 1)  # the one thread runs the tasks in order: then holds here
    project.enqueue("record", 3)
    with project.worker("--threads", "1", *FAST, "--Health:Port=0") as app:
        line = app.expect("Health endpoint listening on http://")
        base = line.split("listening on ")[1].strip()
        app.expect("holding ")

        def metrics_when_settled() -> str | None:
            status, text = get(f"{base}/metrics")
            assert status == 200
            ready = 'threadhost_tasks_ready{queue="default",service="TaskWorker"}'
            return text if sample(text, ready) == 3 else None

        text = poll_until(metrics_when_settled, timeout=WAIT, what="3 tasks ready in /metrics")
        label = '{service="TaskWorker"}'
        assert sample(text, f"threadhost_tasks_running{label}") == 1
        assert sample(text, f"threadhost_tasks_succeeded_total{label}") == 2
        assert sample(text, f"threadhost_tasks_failed_total{label}") == 1
        assert sample(text, f"threadhost_queue_depth{label}") == 3
        oldest = sample(text, f"threadhost_tasks_oldest_ready_seconds{label}")
        assert oldest is not None and oldest >= 0
        assert get(f"{base}/readyz")[0] == 200
        app.send(signal.SIGTERM)
        app.expect("Application is shutting down")
        assert get(f"{base}/readyz")[0] == 503  # the drain: the hold task still runs
        project.release.touch()
        assert app.wait() == 0, app.output()
    assert project.statuses() == {"SUCCESSFUL": 3, "FAILED": 1, "READY": 3}


# -- on PostgreSQL: several processes, a SIGKILL ----------------------------------------------


@pytest.fixture
def pg_project(tmp_path: Path, postgres_server: PostgresServer) -> TasksProject:
    return TasksProject(tmp_path, postgres_server, f"tasks_{uuid.uuid4().hex[:12]}")


def test_a_sigkilled_workers_task_is_given_back_by_a_live_worker_and_runs_again(
        pg_project: TasksProject) -> None:
    project = pg_project
    project.enqueue("hold", 1)
    project.enqueue("record", 5)
    with project.worker("--threads", "1", "--stale-after", "2", *FAST) as first:
        held = first.expect("holding ").split()[-1]
        [(dead, _)] = project.workers()
        first.proc.send_signal(signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
    assert project.statuses() == {"RUNNING": 1, "READY": 5}
    with project.worker("--threads", "2", "--stale-after", "2", *FAST) as second:
        poll_until(lambda: project.finished() == 6, timeout=WAIT * 3, what="6 tasks finished")
        second.send(signal.SIGTERM)
        assert second.wait() == 0, second.output()
    assert project.statuses() == {"SUCCESSFUL": 6}
    runs = project.runs_per_task()
    assert runs.pop(held) == 2 and set(runs.values()) == {1}  # the killed one ran once more
    [(workers, value)] = project.query(f"SELECT worker_ids, return_value FROM {TASKS} "
                                       f"WHERE id = '{held}'")
    assert isinstance(workers, list) and len(workers) == 2 and workers[0] == dead
    assert value == "attempt 2"
    given = [line for line in second.stdout if "presumed dead" in line]
    assert len(given) == 1 and str(dead) in given[0] and held in given[0], second.output()
    assert project.workers() == []  # the dead worker's row went with its task; ours at exit


@pytest.mark.parametrize(("options", "message"), [
    ({"queues": "default"}, "TaskWorker(queues='default') is invalid: expected a non-empty list "
                            "of queue names of 1 to 32 characters, e.g. queues=['default']"),
    ({"queues": []}, "TaskWorker(queues=[]) is invalid: expected a non-empty list"),
    ({"queues": ["x" * 33]}, "TaskWorker(queues=['xxxxxxxx"),
    ({"threads": True}, "TaskWorker(threads=True) is invalid: expected an int >= 1"),
    ({"backend": ""}, "TaskWorker(backend='') is invalid: expected the alias of a backend"),
    ({"poll_interval": 0}, "TaskWorker(poll_interval=0) is invalid: expected seconds > 0"),
    ({"stale_after": math.inf}, "TaskWorker(stale_after=inf) is invalid: expected seconds > 0"),
])
def test_invalid_option_is_a_configuration_error_naming_it(options: dict[str, object],
                                                           message: str) -> None:
    from threadhost.contrib.django_tasks import TaskWorker
    with pytest.raises(th.ConfigurationError, match=f"^{re.escape(message)}"):
        TaskWorker(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("conn_max_age", "connections"), [("0", 6), ("60", 1)])
def test_a_thread_closes_its_connection_after_each_task_unless_conn_max_age_keeps_it(
        pg_project: TasksProject, conn_max_age: str, connections: int) -> None:
    project = pg_project
    project.env["THREADHOST_TEST_CONN_MAX_AGE"] = conn_max_age
    project.enqueue("connection_pid", 6)
    with project.worker("--threads", "1", *FAST) as app:
        poll_until(lambda: project.finished() == 6, timeout=WAIT, what="6 tasks finished")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    pids = {pid for (pid,) in project.query(f"SELECT return_value FROM {TASKS}")}
    assert len(pids) == connections


def test_the_heartbeat_keeps_one_connection_and_replaces_a_dropped_one_without_an_error(
        pg_project: TasksProject) -> None:
    project = pg_project
    others = ("SELECT pid, backend_start FROM pg_stat_activity WHERE datname = "
              "current_database() AND pid <> pg_backend_pid() ORDER BY backend_start LIMIT 1")

    def stamped_after(moment: object) -> bool:
        [(newer,)] = project.query(f"SELECT beat_at > '{moment}' FROM threadhost_tasks_worker")
        return bool(newer)

    with project.worker("--threads", "1", *FAST) as app:
        poll_until(project.workers, timeout=WAIT, what="the heartbeat row")
        [(kept, since)] = project.query(others)
        [(now,)] = project.query("SELECT now()")
        poll_until(lambda: stamped_after(now), timeout=WAIT, what="a heartbeat after now()")
        assert project.query(others) == [(kept, since)]  # stamped on the same connection
        [(now,)] = project.query(f"SELECT now() FROM pg_terminate_backend({kept})")
        poll_until(lambda: stamped_after(now), timeout=WAIT, what="a heartbeat after the kill")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert not [line for line in app.stdout if "cannot reach the database" in line], \
        app.output()
    assert project.workers() == []
