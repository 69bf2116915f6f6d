"""Three real replicas of one host sharing a PostgresLease: one runs, the others take over.

Each replica is tests/apps/lease_replica.py in a process of its own; its service records
every run in ``lease_runs`` (start, 50 ms heartbeats, finish), which is what these tests read.
Takeover bounds are generous upper bounds from the issue (SIGTERM: check_interval + 2 s,
SIGKILL: check_interval + 5 s), polled with a deadline that fails loudly.

These need the host wiring of ``add_hosted_service(..., singleton=lease)`` (SPEC §11).
"""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
import pytest

from tests._services import WAIT
from tests._subprocess import App
from tests.contrib._pg_server import PostgresServer, free_port, poll_until

Db = psycopg.Connection[tuple[object, ...]]

CHECK = 1.0  # the replicas' check_interval, in seconds
SIGTERM_BOUND = CHECK + 2.0
SIGKILL_BOUND = CHECK + 5.0


@dataclass(frozen=True)
class Run:
    id: int
    replica: str
    fencing: int
    started_at: datetime
    ended_at: datetime
    beats: int
    finished: bool


@pytest.fixture
def runs_table(db: Db) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS lease_runs (
        id bigserial PRIMARY KEY, lease text NOT NULL, replica text NOT NULL, pid int,
        fencing bigint NOT NULL, started_at timestamptz NOT NULL,
        ended_at timestamptz NOT NULL, beats int NOT NULL DEFAULT 0,
        finished boolean NOT NULL DEFAULT false)""")


def runs(db: Db, lease: str) -> list[Run]:
    rows = db.execute("SELECT id, replica, fencing, started_at, ended_at, beats, finished "
                      "FROM lease_runs WHERE lease = %s ORDER BY id", (lease,)).fetchall()
    return [Run(*row) for row in rows]  # type: ignore[arg-type]


def replica_app(server: PostgresServer, lease: str, replica: str,
                conninfo: str | None = None) -> App:
    return App("tests/apps/lease_replica.py", conninfo or server.conninfo, lease, replica,
               str(CHECK), "--HostOptions:ShutdownTimeout=5",
               "--Logging:LogLevel:threadhost.lease=Information")


@contextmanager
def replicas(server: PostgresServer, lease: str, count: int = 3) -> Iterator[dict[str, App]]:
    """``count`` replicas, started and ready; any still alive at the end gets SIGTERM."""
    apps = {f"r{n}": replica_app(server, lease, f"r{n}") for n in range(1, count + 1)}
    try:
        for app in apps.values():
            app.expect("ready")
        yield apps
    finally:
        for app in apps.values():
            if app.proc.poll() is None:
                app.send(signal.SIGTERM)
        for app in apps.values():
            with app:
                app.wait()


def first_run(db: Db, lease: str) -> Run:
    return poll_until(lambda: (runs(db, lease) or [None])[0], timeout=WAIT,
                      what="a replica running the service")


def takeover(db: Db, lease: str, after: Run, bound: float) -> tuple[Run, float]:
    """Wait (at most ``bound`` real seconds) for a run that started after ``after``."""
    began = time.monotonic()
    run = poll_until(lambda: next((r for r in runs(db, lease) if r.id > after.id), None),
                     timeout=bound, what=f"another replica taking over within {bound}s")
    return run, time.monotonic() - began


def assert_runs_never_overlapped(db: Db, lease: str) -> list[Run]:
    recorded = runs(db, lease)
    for before, after in itertools.pairwise(recorded):
        assert before.ended_at < after.started_at, f"runs overlap: {before} and {after}"
        assert before.fencing < after.fencing, f"fencing did not increase: {before}, {after}"
    return recorded


def test_exactly_one_of_three_replicas_runs_the_service(
        postgres_server: PostgresServer, runs_table: None, lease_name: str, db: Db) -> None:
    with replicas(postgres_server, lease_name) as apps:
        run = first_run(db, lease_name)
        # Three check intervals of the holder's heartbeats: every standby has retried.
        poll_until(lambda: runs(db, lease_name)[0].beats >= 3 * CHECK / 0.05, timeout=WAIT,
                   what="three check intervals of heartbeats")
        assert [r.replica for r in runs(db, lease_name)] == [run.replica]
        holder = db.execute("SELECT holder, fencing FROM threadhost_lease WHERE name = %s",
                            (lease_name,)).fetchone()
        assert holder is not None and holder[1] == run.fencing
        assert str(holder[0]).endswith(f":{apps[run.replica].proc.pid}")
    for name, app in apps.items():
        assert app.proc.returncode == 0, app.output()
        if name != run.replica:
            assert "is held by another replica" in "\n".join(app.stderr), app.output()


def test_sigterm_of_the_holder_hands_the_service_over_within_check_interval_plus_2s(
        postgres_server: PostgresServer, runs_table: None, lease_name: str, db: Db) -> None:
    with replicas(postgres_server, lease_name) as apps:
        run = first_run(db, lease_name)
        apps[run.replica].send(signal.SIGTERM)
        successor, _ = takeover(db, lease_name, run, SIGTERM_BOUND)
        assert successor.replica != run.replica
        assert apps[run.replica].wait() == 0
        assert "stopped " + run.replica in apps[run.replica].stdout
    recorded = assert_runs_never_overlapped(db, lease_name)
    assert recorded[0].finished  # the holder's service ended before the lease was released
    holder = db.execute("SELECT holder FROM threadhost_lease WHERE name = %s",
                        (lease_name,)).fetchone()
    assert holder == (None,)  # every replica released the lease as it stopped


def test_sigkill_of_the_holder_hands_the_service_over_within_check_interval_plus_5s(
        postgres_server: PostgresServer, runs_table: None, lease_name: str, db: Db) -> None:
    with replicas(postgres_server, lease_name) as apps:
        run = first_run(db, lease_name)
        apps[run.replica].send(signal.SIGKILL)
        successor, _ = takeover(db, lease_name, run, SIGKILL_BOUND)
        assert successor.replica != run.replica
        assert successor.fencing > run.fencing
        assert apps[run.replica].wait() == -signal.SIGKILL
    assert_runs_never_overlapped(db, lease_name)


def test_runs_never_overlap_and_fencing_increases_across_a_chain_of_handovers(
        postgres_server: PostgresServer, runs_table: None, lease_name: str, db: Db) -> None:
    with replicas(postgres_server, lease_name) as apps:
        run = first_run(db, lease_name)
        apps[run.replica].send(signal.SIGTERM)
        second, _ = takeover(db, lease_name, run, SIGTERM_BOUND)
        apps[second.replica].send(signal.SIGKILL)
        third, _ = takeover(db, lease_name, second, SIGKILL_BOUND)
        assert len({run.replica, second.replica, third.replica}) == 3
    recorded = assert_runs_never_overlapped(db, lease_name)
    assert [r.fencing for r in recorded] == [1, 2, 3]


def test_holder_whose_lease_connection_is_terminated_stops_its_service_promptly(
        postgres_server: PostgresServer, runs_table: None, lease_name: str, db: Db) -> None:
    with replicas(postgres_server, lease_name) as apps:
        run = first_run(db, lease_name)
        terminated = db.execute(
            "SELECT pg_terminate_backend(a.pid, 10000) FROM pg_stat_activity a "
            "JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted "
            "WHERE a.application_name = %s", (f"threadhost-lease:{lease_name}",)).fetchall()
        assert terminated == [(True,)]
        began = time.monotonic()
        poll_until(lambda: runs(db, lease_name)[0].finished, timeout=CHECK + 2.0,
                   what="the old holder's service stopping after its lease was lost")
        assert time.monotonic() - began <= CHECK + 2.0
        apps[run.replica].expect("stopped " + run.replica)
        # Someone holds the lease again, with a higher fencing number.
        successor = poll_until(lambda: next((r for r in runs(db, lease_name) if r.id > run.id),
                                            None), timeout=WAIT, what="a new holder")
        assert successor.fencing > run.fencing
    assert f"Lease '{lease_name}' was lost" in "\n".join(apps[run.replica].stderr)


def test_replica_whose_database_cannot_be_reached_stays_on_standby_and_stops_cleanly(
        postgres_server: PostgresServer, lease_name: str) -> None:
    conninfo = f"host=127.0.0.1 port={free_port()} user=postgres connect_timeout=2"
    with replica_app(postgres_server, lease_name, "r1", conninfo=conninfo) as app:
        app.expect("ready")
        poll_until(lambda: any("cannot be reached" in line for line in app.stderr),
                   timeout=WAIT, what="the WARNING that the lease cannot be reached")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    warnings = [line for line in app.stderr if "cannot be reached" in line]
    assert len(warnings) == 1, app.output()
    assert lease_name in warnings[0]
    assert "running" not in "\n".join(app.stdout)
