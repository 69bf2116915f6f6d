"""The PostgreSQL server the lease tests run against: one per session, started on first use."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.contrib._pg_server import HOW_TO_GET, PostgresServer, find_bindir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server on a free loopback port, stopped at the session's end.

    Skipped where no server binaries exist, unless THREADHOST_REQUIRE_POSTGRES=1 (CI), which
    makes that a failure.
    """
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("THREADHOST_REQUIRE_POSTGRES") == "1":
            pytest.fail(HOW_TO_GET, pytrace=False)
        pytest.skip(HOW_TO_GET)
    with PostgresServer(bindir) as server:
        yield server


@pytest.fixture
def db(postgres_server: PostgresServer) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection of the test's own to the server."""
    with postgres_server.connect() as conn:
        yield conn


@pytest.fixture
def lease_name() -> str:
    """A lease name no other test uses."""
    return f"job-{uuid.uuid4().hex[:12]}"
