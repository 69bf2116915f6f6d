"""PostgresLease against a real PostgreSQL server (the session's throwaway one)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import psycopg
import pytest

import threadhost as th
from tests._services import WAIT
from tests._subprocess import ROOT
from tests.contrib._pg_server import PostgresServer, free_port, poll_until
from threadhost._leases.driver import drive_lease
from threadhost._time.clock import SYSTEM_CLOCK
from threadhost.contrib.postgres import PostgresLease

Db = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def leases(postgres_server: PostgresServer, lease_name: str) -> Iterator[list[PostgresLease]]:
    """A factory list: every lease a test makes is released at its end."""
    made: list[PostgresLease] = []
    yield made
    for lease in made:
        lease.release()


def make(made: list[PostgresLease], conninfo: str, name: str,
         **kwargs: float) -> PostgresLease:
    lease = PostgresLease(conninfo, name, **kwargs)
    lease.bind("Job")
    made.append(lease)
    return lease


def row(db: Db, name: str) -> tuple[object, ...] | None:
    return db.execute("SELECT holder, fencing, acquired_at FROM threadhost_lease "
                      "WHERE name = %s", (name,)).fetchone()


def test_acquire_takes_a_new_name_with_fencing_one_and_this_process_as_holder(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str,
        db: Db) -> None:
    lease = make(leases, postgres_server.conninfo, lease_name)
    info = lease.acquire()
    assert info == th.LeaseInfo(name=lease_name, holder=f"{socket.gethostname()}:{os.getpid()}",
                                fencing=1)
    holder, fencing, acquired_at = row(db, lease_name) or (None, None, None)
    assert (holder, fencing) == (info.holder, 1)
    assert acquired_at is not None


def test_second_lease_of_the_same_name_gets_none_while_the_first_holds(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str) -> None:
    first = make(leases, postgres_server.conninfo, lease_name)
    second = make(leases, postgres_server.conninfo, lease_name)
    assert first.acquire() is not None
    assert second.acquire() is None
    assert second.acquire() is None  # and again, on the same standby connection
    assert first.check() is True


def test_second_lease_takes_over_once_the_first_releases_with_a_higher_fencing(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str) -> None:
    first = make(leases, postgres_server.conninfo, lease_name)
    second = make(leases, postgres_server.conninfo, lease_name)
    taken = first.acquire()
    assert second.acquire() is None
    first.release()
    again = second.acquire()
    assert taken is not None and again is not None
    assert again.fencing == taken.fencing + 1


def test_leases_of_other_names_do_not_exclude_each_other(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str) -> None:
    assert make(leases, postgres_server.conninfo, lease_name + "-a").acquire() is not None
    assert make(leases, postgres_server.conninfo, lease_name + "-b").acquire() is not None


def test_release_keeps_the_row_with_holder_null_and_the_fencing_counting(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str,
        db: Db) -> None:
    lease = make(leases, postgres_server.conninfo, lease_name)
    assert lease.acquire() is not None
    lease.release()
    assert row(db, lease_name)[:2] == (None, 1)  # type: ignore[index]
    lease.release()  # idempotent
    info = lease.acquire()
    assert info is not None and info.fencing == 2
    assert row(db, lease_name)[:2] == (info.holder, 2)  # type: ignore[index]


def test_fencing_strictly_increases_across_processes(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str) -> None:
    script = ("import sys; from threadhost.contrib.postgres import PostgresLease as L; "
              "lease = L(sys.argv[1], sys.argv[2]); lease.bind('Job'); "
              "print(lease.acquire().fencing); lease.release()")
    seen = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", script, postgres_server.conninfo,
                              lease_name], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
        seen.append(int(out.stdout))
        info = make(leases, postgres_server.conninfo, lease_name).acquire()
        assert info is not None
        seen.append(info.fencing)
        leases[-1].release()
    assert seen == sorted(set(seen)) and seen[0] == 1


def test_lease_connection_is_its_own_with_the_application_name(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str,
        db: Db) -> None:
    lease = make(leases, postgres_server.conninfo, lease_name)
    assert lease.acquire() is not None
    sessions = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
        (f"threadhost-lease:{lease_name}",)).fetchone()
    assert sessions == (1,)
    lease.release()
    # The server ends the backend of a closed connection on its own time: wait for it.
    poll_until(lambda: db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
        (f"threadhost-lease:{lease_name}",)).fetchone() == (0,),
        timeout=WAIT, what="the released lease's session gone from pg_stat_activity")


def test_check_turns_false_at_once_when_the_server_terminates_the_lease_backend(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str,
        db: Db) -> None:
    lease = make(leases, postgres_server.conninfo, lease_name)
    assert lease.acquire() is not None
    assert lease.check() is True
    terminated = db.execute(
        "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
        "WHERE application_name = %s", (f"threadhost-lease:{lease_name}",)).fetchall()
    assert terminated == [(True,)]
    assert lease.check() is False
    lease.release()  # never raises for a lost backend
    # The lock went with the backend: another lease takes it at once.
    assert make(leases, postgres_server.conninfo, lease_name).acquire() is not None


def test_check_turns_false_when_the_lock_is_gone_though_the_connection_lives(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str) -> None:
    # What PgBouncer in transaction mode or a recycled pool connection does to a session lock.
    lease = make(leases, postgres_server.conninfo, lease_name)
    assert lease.acquire() is not None
    assert lease._conn is not None
    lease._conn.execute("SELECT pg_advisory_unlock_all()")
    assert lease.check() is False


def test_check_turns_false_when_another_holder_took_the_row(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str,
        db: Db) -> None:
    lease = make(leases, postgres_server.conninfo, lease_name)
    assert lease.acquire() is not None
    db.execute("UPDATE threadhost_lease SET fencing = fencing + 1 WHERE name = %s",
               (lease_name,))
    assert lease.check() is False


def test_check_is_false_when_nothing_is_held(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str) -> None:
    assert make(leases, postgres_server.conninfo, lease_name).check() is False


def test_acquire_after_its_standby_connection_was_terminated_reconnects(
        postgres_server: PostgresServer, leases: list[PostgresLease], lease_name: str,
        db: Db) -> None:
    holder = make(leases, postgres_server.conninfo, lease_name)
    standby = make(leases, postgres_server.conninfo, lease_name)
    assert holder.acquire() is not None
    assert standby.acquire() is None
    db.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
               "WHERE application_name = %s", (f"threadhost-lease:{lease_name}",))
    assert holder.check() is False
    holder.release()
    assert standby.acquire() is not None


def test_unreachable_server_raises_connection_error_naming_the_lease(lease_name: str) -> None:
    lease = PostgresLease(f"host=127.0.0.1 port={free_port()} user=postgres", lease_name,
                          connect_timeout=2)
    lease.bind("Job")
    with pytest.raises(ConnectionError, match=rf"^PostgresLease '{lease_name}' cannot reach "
                                              r"PostgreSQL: .*Connection refused"):
        lease.acquire()
    assert lease.check() is False
    lease.release()


def test_malformed_conninfo_fails_bind_naming_the_lease() -> None:
    lease = PostgresLease("host=db no-equals-sign", check_interval=1)
    with pytest.raises(th.ConfigurationError,
                       match=r"^PostgresLease 'Reports': malformed conninfo: "):
        lease.bind("Reports")


def test_unknown_conninfo_option_fails_bind() -> None:
    with pytest.raises(th.ConfigurationError, match=r"invalid connection option \"hots\""):
        PostgresLease("hots=db", "nightly").bind("Job")


@pytest.mark.parametrize("field", ["check_interval", "connect_timeout"])
@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan")])
def test_non_positive_or_infinite_intervals_fail_bind(field: str, value: float) -> None:
    lease = PostgresLease("host=db", "nightly", **{field: value})
    with pytest.raises(th.ConfigurationError,
                       match=rf"^PostgresLease 'nightly': {field}=.* is invalid: expected "
                             r"seconds > 0"):
        lease.bind("Job")


def test_name_defaults_to_the_service_name_once_bound() -> None:
    lease = PostgresLease("host=db")
    with pytest.raises(RuntimeError, match=r"has no name yet"):
        _ = lease.name
    lease.bind("Mailer")
    assert lease.name == "Mailer"
    assert repr(lease) == "<PostgresLease 'Mailer' not connected>"


def test_one_lease_bound_to_two_services_fails() -> None:
    lease = PostgresLease("host=db", "shared")
    lease.bind("A")
    with pytest.raises(th.ConfigurationError,
                       match=r"^PostgresLease 'shared' is already bound to service 'A'"):
        lease.bind("B")


def test_module_imports_without_psycopg_and_using_the_lease_names_the_extra() -> None:
    script = ("import sys; sys.modules['psycopg'] = None\n"
              "import threadhost.contrib.postgres as m\n"
              "try:\n    m.PostgresLease('host=db')\n"
              "except ModuleNotFoundError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.stdout.strip() == (
        "PostgresLease needs psycopg 3, which is not installed; install threadhost with the "
        "postgres extra: pip install 'threadhost[postgres]'")


class RealDriver:
    """``drive_lease`` over a PostgresLease on the system clock, on a thread of its own."""

    def __init__(self, lease: PostgresLease) -> None:
        self.lease = lease
        self.stop_source = th.CancellationTokenSource()
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.states: list[str] = []
        self.infos: list[th.LeaseInfo] = []
        self.runs: list[th.CancellationTokenSource] = []
        self.thread = threading.Thread(target=self._main, name="threadhost:lease:Job")
        self.thread.start()

    def _start(self, info: th.LeaseInfo) -> th.CancellationToken:
        self.infos.append(info)
        self.runs.append(th.CancellationTokenSource())
        self.stopped.clear()
        self.started.set()
        return self.runs[-1].token

    def _stop(self) -> None:
        self.runs[-1].cancel()
        self.started.clear()
        self.stopped.set()

    def _main(self) -> None:
        drive_lease(self.lease, service_name="Job", clock=SYSTEM_CLOCK,
                    stop_token=self.stop_source.token, start=self._start, stop=self._stop,
                    set_state=self.states.append)

    def close(self) -> None:
        self.stop_source.cancel()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


def test_driver_stops_the_service_promptly_when_the_server_ends_the_lease_session(
        postgres_server: PostgresServer, lease_name: str, db: Db,
        caplog: pytest.LogCaptureFixture) -> None:
    first = RealDriver(make([], postgres_server.conninfo, lease_name, check_interval=1.0))
    second: RealDriver | None = None
    try:
        assert first.started.wait(WAIT)
        second = RealDriver(make([], postgres_server.conninfo, lease_name,
                                 check_interval=0.1))
        poll_until(lambda: second.states == ["STANDBY"] and second.lease._conn is not None,
                   timeout=WAIT, what="the second replica on standby")
        db.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                   "WHERE application_name = %s AND pid IN (SELECT pid FROM pg_locks "
                   "WHERE locktype = 'advisory' AND granted)",
                   (f"threadhost-lease:{lease_name}",))
        assert first.stopped.wait(WAIT), "the holder's service was not stopped"
        assert second.started.wait(WAIT), "the standby did not take over"
        assert second.infos[0].fencing == first.infos[0].fencing + 1
        assert any("was lost" in r.getMessage() for r in caplog.records
                   if r.levelno == logging.WARNING)
    finally:
        first.close()
        if second is not None:
            second.close()
    assert row(db, lease_name)[:2] == (None, 2)  # type: ignore[index]


def test_replicas_starting_together_on_a_fresh_database_all_create_the_table_safely(
        postgres_server: PostgresServer, db: Db, lease_name: str) -> None:
    database = lease_name.replace("-", "_")
    db.execute(f"CREATE DATABASE {database}")
    conninfo = postgres_server.conninfo.replace("dbname=postgres", f"dbname={database}")
    leases = [make([], conninfo, f"{lease_name}-{n}") for n in range(4)]
    together = threading.Barrier(len(leases))
    results: list[object] = []

    def first_acquire(lease: PostgresLease) -> None:
        together.wait(WAIT)
        try:
            results.append(lease.acquire())
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=first_acquire, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    try:
        assert all(isinstance(r, th.LeaseInfo) and r.fencing == 1 for r in results), results
        assert len(results) == 4
    finally:
        for lease in leases:
            lease.release()
        db.execute(f"DROP DATABASE {database}")
