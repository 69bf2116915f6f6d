"""The docs' PostgreSQL blocks, run against the throwaway PostgreSQL server: the scaling-out
page's leased service (the holder sends the invoices, stamped with its fencing number) and
the schedules page's leased, claimed nightly report."""

from __future__ import annotations

import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

import threadhost as th
from tests._docs import run, setup_block
from tests._services import WAIT
from tests.contrib._pg_server import PostgresServer, poll_until


def app_database(server: PostgresServer) -> str:
    """The conninfo of a new, empty database of ``server``."""
    dbname = f"app_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    return server.conninfo.replace("dbname=postgres", f"dbname={dbname}")


def test_the_lease_holder_sends_the_invoices_with_its_fencing_number(
        postgres_server: PostgresServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    app_db = app_database(postgres_server)
    with psycopg.connect(app_db, autocommit=True) as db:
        db.execute("CREATE TABLE invoices (id serial PRIMARY KEY, "
                   "sent boolean NOT NULL DEFAULT false, fencing bigint NOT NULL DEFAULT 0)")
        db.execute("INSERT INTO invoices (sent) VALUES (false), (false), (false)")
    monkeypatch.setenv("APP_DB", app_db)
    monkeypatch.chdir(tmp_path)
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    run(setup_block("postgres-lease"), {"builder": builder})

    def invoices() -> list[tuple[object, ...]]:
        with psycopg.connect(app_db, autocommit=True) as db:
            return db.execute("SELECT id, sent, fencing FROM invoices ORDER BY id").fetchall()

    with builder.build() as host:
        poll_until(lambda: all(sent for _, sent, _ in invoices()), timeout=WAIT,
                   what="every invoice sent")
        assert host.health().services["SendInvoices"].state == th.ServiceState.RUNNING
    assert invoices() == [(1, True, 1), (2, True, 1), (3, True, 1)]  # the first holder: 1


def test_the_nightly_report_runs_on_the_replica_holding_its_lease(
        postgres_server: PostgresServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    app_db = app_database(postgres_server)
    monkeypatch.setenv("APP_DB", app_db)
    monkeypatch.chdir(tmp_path)
    report = run(setup_block("schedule-function"))  # send_report, from the page's top
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    run(setup_block("schedule-postgres"), {"builder": builder,
                                           "send_report": report.send_report})

    def holders() -> list[tuple[object, ...]]:
        with psycopg.connect(app_db, autocommit=True) as db:
            if db.execute("SELECT to_regclass('threadhost_lease')").fetchone() == (None,):
                return []  # not created yet: the lease makes it on first use
            return db.execute("SELECT name, holder IS NOT NULL, fencing "
                              "FROM threadhost_lease").fetchall()

    with builder.build() as host:
        poll_until(lambda: holders() == [("nightly-report", True, 1)], timeout=WAIT,
                   what="the lease of nightly-report held")
        next_fire = poll_until(lambda: host.health().services["nightly-report"].next_fire,
                               timeout=WAIT, what="the next fire time of nightly-report")
        berlin = next_fire.astimezone(ZoneInfo("Europe/Berlin"))
        assert (berlin.hour, berlin.minute) == (2, 30)
    assert holders() == [("nightly-report", False, 1)]  # released by the stop
