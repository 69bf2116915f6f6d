"""``PostgresScheduleState``: a schedule's last fire time in PostgreSQL, claimed once.

Chosen: a row per schedule in ``threadhost_schedule(name, last_fire, claimed_by, claimed_at)``
(table created on first use, serialised by a transaction-level advisory lock as the lease's
table is), and a claim that is one conditional upsert: the row takes the fire time only if
its ``last_fire`` is earlier (or there is none). Two replicas claiming the same fire time are
serialised by the row lock; the second finds ``last_fire`` equal and updates nothing. So each
fire time runs at most once across replicas and restarts, and a replica restarted after a
crash goes on from the last fire time claimed.

One connection per state object, opened on first use and kept (the claim is on every fire
time: connecting each time would cost more than the query), used under a lock of ours by one
service at a time, with every call bounded as the lease's are (``connect_timeout``, then
``statement_timeout`` and ``tcp_user_timeout``); a connection that failed is dropped and a new
one made at the next call. Autocommit: the claim is committed before the run starts.

Rejected: ``SELECT ... FOR UPDATE`` then ``UPDATE`` (two round trips, and a transaction held
open across them); a lock held through the run (a crashed holder would block every replica
until a timeout: ``singleton=`` offers that shape already).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
from datetime import datetime
from typing import Any, final

from threadhost._errors import ConfigurationError

try:
    import psycopg
except ImportError:  # the `postgres` extra is not installed: the constructor says so
    psycopg = None  # type: ignore[assignment]

_TABLE_LOCK = (0x74687264, 0x73636864)  # int4 'thrd', 'schd': serialises creating the table

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS threadhost_schedule (
    name text PRIMARY KEY,
    last_fire timestamptz,
    claimed_by text,
    claimed_at timestamptz
)"""

_LAST = "SELECT last_fire FROM threadhost_schedule WHERE name = %s"

_CLAIM = """
INSERT INTO threadhost_schedule AS s (name, last_fire, claimed_by, claimed_at)
VALUES (%(name)s, %(fire)s, %(by)s, now())
ON CONFLICT (name) DO UPDATE
    SET last_fire = EXCLUDED.last_fire, claimed_by = EXCLUDED.claimed_by, claimed_at = now()
    WHERE s.last_fire IS NULL OR s.last_fire < EXCLUDED.last_fire
RETURNING 1"""


@final
class PostgresScheduleState:
    """A ``ScheduleState`` shared through PostgreSQL (extra ``postgres``): pass it as a
    schedule's ``state`` on every replica, and each fire time runs on one replica at most.

    ``conninfo`` is a libpq connection string; ``connect_timeout`` (real seconds) bounds the
    connection and each query. Thread-safe; its methods block for one round trip (at most
    about ``connect_timeout``) and raise ConnectionError when the server cannot be reached
    (the schedule then skips that fire time, logs it and counts a failure). The constructor
    raises ConfigurationError when psycopg is not installed or the timeout is not seconds > 0.
    """

    def __init__(self, conninfo: str, *, connect_timeout: float = 5.0) -> None:
        if psycopg is None:
            raise ConfigurationError(
                "PostgresScheduleState needs psycopg 3, which is not installed; install "
                "threadhost with the postgres extra: pip install 'threadhost[postgres]'")
        if isinstance(connect_timeout, bool) or not isinstance(connect_timeout, int | float) \
                or not (connect_timeout > 0 and math.isfinite(connect_timeout)):
            raise ConfigurationError(f"PostgresScheduleState(connect_timeout="
                                     f"{connect_timeout!r}): expected seconds > 0")
        self._conninfo = conninfo
        self.connect_timeout = float(connect_timeout)
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._host = socket.gethostname()
        self._pid = os.getpid()

    def last_fire(self, name: str) -> datetime | None:
        """See ``ScheduleState.last_fire``: the row's ``last_fire``, None without a row."""
        row = self._query(_LAST, (name,))
        return None if row is None else row[0]

    def claim(self, name: str, fire_time: datetime) -> bool:
        """See ``ScheduleState.claim``: one conditional upsert, committed on return."""
        return self._query(_CLAIM, {"name": name, "fire": fire_time,
                                    "by": f"{self._host}:{os.getpid()}"}) is not None

    def close(self) -> None:
        """Close the connection (a later call opens a new one). Thread-safe."""
        with self._lock:
            self._drop()

    def _query(self, sql: str, params: Any) -> tuple[Any, ...] | None:
        with self._lock:
            if self._pid != os.getpid():
                # A forked child: the parent's connection is not ours to use or to close.
                self._conn, self._pid = None, os.getpid()
            try:
                conn = self._conn or self._connect()
                return conn.execute(sql, params).fetchone()
            except psycopg.Error as exc:
                self._drop()
                raise ConnectionError(f"PostgresScheduleState: {_first_line(exc)}") from exc

    def _connect(self) -> psycopg.Connection[Any]:
        bound_ms = math.ceil(self.connect_timeout * 1000)
        conn = psycopg.Connection.connect(
            self._conninfo, autocommit=True, application_name="threadhost-schedule",
            connect_timeout=max(2, math.ceil(self.connect_timeout)),
            tcp_user_timeout=bound_ms)
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, false)",
                         (f"{bound_ms}ms",))
            exists = conn.execute(
                "SELECT to_regclass('threadhost_schedule') IS NOT NULL").fetchone()
            if not (exists and exists[0]):
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", _TABLE_LOCK)
                    conn.execute(_CREATE_TABLE)
        except BaseException:
            with contextlib.suppress(psycopg.Error, OSError):
                conn.close()
            raise
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                conn.close()

    def __repr__(self) -> str:
        return f"<PostgresScheduleState {'connected' if self._conn else 'not connected'}>"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
