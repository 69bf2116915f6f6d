"""The scaling-out page's leased service, run against the throwaway PostgreSQL server: the
replica that holds the lease sends the invoices, stamped with its fencing number."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

import threadhost as th
from tests._docs import run, setup_block
from tests._services import WAIT
from tests.contrib._pg_server import PostgresServer, poll_until


def test_the_lease_holder_sends_the_invoices_with_its_fencing_number(
        postgres_server: PostgresServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dbname = f"app_{uuid.uuid4().hex[:8]}"
    with postgres_server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    app_db = postgres_server.conninfo.replace("dbname=postgres", f"dbname={dbname}")
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
