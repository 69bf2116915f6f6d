"""PostgreSQL leases: run a service on one replica at a time (extra ``postgres``); and
``PostgresScheduleState``, which runs each fire time of a schedule on one replica at most.

Register a service with a lease and start the same program on several machines::

    from threadhost.contrib.postgres import PostgresLease

    builder.services.add_hosted_service(
        Cleanup, singleton=PostgresLease("host=db dbname=app user=worker"))

Every replica runs the host; only the one that holds the lease runs ``Cleanup``, the others
are on standby (``ServiceState.STANDBY``, healthy and ready) and take over when the holder
stops, dies or loses its connection.

Design note
-----------
Chosen: a PostgreSQL *session* advisory lock, taken with ``pg_try_advisory_lock`` on a
connection the lease opens for itself alone (``application_name`` is
``threadhost-lease:NAME``, so ``pg_stat_activity`` shows who holds what). The server frees
the lock the moment that connection ends, which is what makes takeover after a crash quick and
safe: a killed process's socket is closed by its kernel and the backend exits at once; a host
that vanished is noticed by the server's TCP keepalives, which the lease sets for its own
session (``tcp_keepalives_idle`` = ``check_interval``, then 3 probes a second apart). Beside
the lock, the table ``threadhost_lease`` (created if missing) keeps one row per name with the
current ``holder`` (``HOSTNAME:PID``, NULL once released) and a ``fencing`` number incremented
on every acquisition, in the same session that holds the lock: pass it to the writes the job
makes, so the store can refuse an old holder's late writes.

``check()`` asks *that* connection whether *its* backend still holds the lock (``pg_locks``
filtered by ``pg_backend_pid()``) and whether the row still carries our fencing number. A
connection that went through PgBouncer in transaction mode, or was recycled by a pool, lands
on a backend without the lock, and the check says so instead of trusting a stale session.

Every network call is bounded: ``connect_timeout`` for connecting (libpq's rule: whole
seconds, at least 2), then ``statement_timeout`` and ``lock_timeout`` of ``connect_timeout``
on the server, and ``tcp_user_timeout`` of ``connect_timeout`` on the client socket, so a
query to a server that stopped answering fails instead of hanging. Not covered: a server
whose kernel still acknowledges packets while the postmaster itself is frozen (SIGSTOP); the
call then waits for the server.

Rejected:

* ``pg_advisory_lock`` (blocking) for a faster takeover: a standby would sit inside a query
  for as long as the holder lives, with no bound the host could enforce at stop.
* Leases by row alone (``UPDATE ... WHERE expires_at < now()``): correctness would hang on
  clock skew and on renewing in time; the advisory lock's lifetime *is* the connection's.
* The ORM's or a pool's connection: Django's ``close_old_connections``, pool recycling and
  PgBouncer transaction pooling silently drop a session lock; the lease must own its socket.
* ``CREATE TABLE IF NOT EXISTS`` alone: two replicas creating the table at the same moment
  can fail on ``pg_type``'s unique index, so creation is serialised with a transaction-level
  advisory lock in the two-key space (which never meets the one-key space of the leases).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
from typing import Any, final

from threadhost._errors import ConfigurationError
from threadhost._leases import messages
from threadhost._leases.lease import Lease, LeaseInfo

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
except ImportError:  # the `postgres` extra is not installed: PostgresLease() says so
    _HAVE_PSYCOPG = False
else:
    _HAVE_PSYCOPG = True

from threadhost.contrib._postgres_schedule import PostgresScheduleState

__all__ = ["PostgresLease", "PostgresScheduleState"]

_MISSING_PSYCOPG = (
    "PostgresLease needs psycopg 3, which is not installed; install threadhost with the "
    "postgres extra: pip install 'threadhost[postgres]'")

# The two-key advisory lock that serialises creating the table (int4 'thrd', 'leas').
_TABLE_LOCK = (0x74687264, 0x6C656173)

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS threadhost_lease (
    name text PRIMARY KEY,
    holder text,
    fencing bigint,
    acquired_at timestamptz
)"""

_TRY_LOCK = """
SELECT k, pg_try_advisory_lock(k)
FROM (SELECT hashtextextended('threadhost:' || %s, 0) AS k) AS key"""

_TAKE_ROW = """
INSERT INTO threadhost_lease AS l (name, holder, fencing, acquired_at)
VALUES (%(name)s, %(holder)s, 1, now())
ON CONFLICT (name) DO UPDATE
    SET holder = EXCLUDED.holder, fencing = COALESCE(l.fencing, 0) + 1, acquired_at = now()
RETURNING fencing"""

# The bigint key of a one-key advisory lock shows in pg_locks as classid (high 32 bits),
# objid (low 32 bits) and objsubid 1.
_CHECK = """
SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() AND objsubid = 1
          AND classid = ((%(key)s::bigint >> 32) & 4294967295)::oid
          AND objid = (%(key)s::bigint & 4294967295)::oid)
   AND EXISTS (
        SELECT 1 FROM threadhost_lease WHERE name = %(name)s AND fencing = %(fencing)s)"""

_GIVE_ROW_BACK = """
UPDATE threadhost_lease SET holder = NULL WHERE name = %(name)s AND fencing = %(fencing)s"""


def _holder() -> str:
    # Read at every acquisition: a forked child has another PID than its parent.
    return f"{socket.gethostname()}:{os.getpid()}"


@final
class PostgresLease(Lease):
    """A lease held as a PostgreSQL session advisory lock on a connection of its own.

    ``conninfo`` is a libpq connection string or URI (``host=db dbname=app user=worker`` or
    ``postgresql://worker@db/app``); ``name`` defaults to the service's name. The lease
    connects with ``application_name=threadhost-lease:NAME``, ``autocommit``, and its own
    ``connect_timeout``, keepalive and ``tcp_user_timeout`` settings (they override the ones
    in ``conninfo``). ``check_interval`` is in seconds on the host's clock; ``connect_timeout``
    in real seconds (rounded up to whole seconds, at least 2, as libpq does).

    Connect straight to PostgreSQL: never through PgBouncer in transaction or statement mode
    (a session lock cannot live there; the first ``check()`` would report it lost).

    Constructed on any thread; then driven by the host from one thread at a time (see
    ``threadhost.Lease``). Not thread-safe otherwise. Raises ``ModuleNotFoundError`` naming
    the ``postgres`` extra when psycopg is not installed.
    """

    def __init__(self, conninfo: str, name: str | None = None, *,
                 check_interval: float = 5.0, connect_timeout: float = 5.0) -> None:
        if not _HAVE_PSYCOPG:
            raise ModuleNotFoundError(_MISSING_PSYCOPG, name="psycopg")
        self._conninfo = conninfo
        self._explicit_name = name
        self._service: str | None = None
        self.check_interval = check_interval
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None
        self._key: int | None = None  # the advisory lock key, known once connected
        self._info: LeaseInfo | None = None  # the lease held, or None

    @property
    def name(self) -> str:
        """The lease's name: the one given, else the service's (known once bound).

        Raises RuntimeError before ``bind`` when no name was given.
        """
        if self._explicit_name is not None:
            return self._explicit_name
        if self._service is None:
            raise RuntimeError("This PostgresLease has no name yet: pass name=... or register "
                               "it with add_hosted_service(..., singleton=lease).")
        return self._service

    @property
    def info(self) -> LeaseInfo | None:
        """The lease held (name, holder, fencing), or None. Read it on the driving thread."""
        return self._info

    def bind(self, service_name: str) -> None:
        """Take ``service_name`` as the default name and check the settings (at ``build()``).

        Raises ``ConfigurationError`` naming the lease for a conninfo that does not parse, a
        non-positive or non-finite ``check_interval`` or ``connect_timeout``, an empty name, or
        a lease already bound to another service.
        """
        if self._service is not None and self._service != service_name:
            raise ConfigurationError(
                f"PostgresLease {self.name!r} is already bound to service {self._service!r}; "
                f"give service {service_name!r} a lease of its own.")
        self._service = service_name
        name = self.name
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"PostgresLease name={name!r} is invalid: expected a non-empty string.")
        for field in ("check_interval", "connect_timeout"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or value <= 0:
                raise ConfigurationError(
                    f"PostgresLease {name!r}: {field}={value!r} is invalid: expected seconds "
                    f"> 0 (a finite number).")
        if not isinstance(self._conninfo, str):
            raise ConfigurationError(
                f"PostgresLease {name!r}: conninfo must be a string, got "
                f"{type(self._conninfo).__name__}.")
        try:
            conninfo_to_dict(self._conninfo)
        except psycopg.ProgrammingError as exc:
            # The message names what is wrong; the conninfo itself may carry a password.
            detail = str(exc).strip()
            raise ConfigurationError(
                f"PostgresLease {name!r}: malformed conninfo: {detail}. Expected a libpq "
                f"connection string ('host=db dbname=app') or URI "
                f"('postgresql://user@db/app').") from None

    def acquire(self) -> LeaseInfo | None:
        """Try once to take the lease; its info if taken, None if another session holds it.

        Opens the lease's connection if it has none (and keeps it between tries). Blocks for
        at most about ``connect_timeout`` (connecting) plus ``connect_timeout`` per query.
        Raises ``ConnectionError`` when the server cannot be reached or does not answer in
        time; another ``psycopg.Error`` (a missing privilege, say) as it comes.
        """
        if self._info is not None:
            return self._info
        if self._conn is not None:
            try:
                return self._try_lock(self._conn)
            except psycopg.OperationalError:
                self._drop()  # a standby connection the server dropped: one fresh try below
        conn = self._connect()
        try:
            return self._try_lock(conn)
        except psycopg.OperationalError as exc:
            self._drop()
            raise ConnectionError(
                f"PostgresLease {self.name!r}: the server stopped answering: "
                f"{_first_line(exc)}") from exc
        except BaseException:
            self._drop()
            raise

    def check(self) -> bool:
        """True while this connection's backend holds the lock and the row has our fencing.

        One query on the lease's connection, bounded as ``acquire``'s. Returns False (and
        closes the connection) when it fails: a terminated backend, a lost server, a lock
        gone. Never raises for a lost backend.
        """
        conn, info = self._conn, self._info
        if conn is None or info is None:
            return False
        try:
            row = conn.execute(_CHECK, {"key": self._key, "name": info.name,
                                        "fencing": info.fencing}).fetchone()
        except (psycopg.Error, OSError) as exc:
            messages.lease_check_failed(info.name, exc)
            self._drop()
            return False
        return bool(row and row[0])

    def release(self) -> None:
        """Give the lease up (holder NULL, lock unlocked) and close the connection.

        Idempotent; never raises for a lost backend (closing the connection frees the lock
        on the server anyway). Bounded as ``acquire``'s queries.
        """
        conn, info = self._conn, self._info
        self._info = None
        if conn is None:
            return
        try:
            if info is not None and not conn.closed:
                conn.execute(_GIVE_ROW_BACK, {"name": info.name, "fencing": info.fencing})
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        except (psycopg.Error, OSError) as exc:
            messages.lease_release_connection_gone(self.name, exc)
        finally:
            self._drop()

    # -- internals -----------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        name = self.name
        bound_ms = math.ceil(self.connect_timeout * 1000)
        try:
            conn = psycopg.Connection.connect(
                self._conninfo, autocommit=True, prepare_threshold=None,
                application_name=f"threadhost-lease:{name}",
                connect_timeout=max(2, math.ceil(self.connect_timeout)),
                keepalives=1, keepalives_idle=max(1, math.ceil(self.check_interval)),
                keepalives_interval=1, keepalives_count=3, tcp_user_timeout=bound_ms)
        except psycopg.Error as exc:
            raise ConnectionError(
                f"PostgresLease {name!r} cannot reach PostgreSQL: {_first_line(exc)}") from exc
        self._conn = conn
        try:
            self._prepare_session(conn, bound_ms)
        except psycopg.OperationalError as exc:
            self._drop()
            raise ConnectionError(
                f"PostgresLease {name!r}: the server stopped answering while the lease "
                f"connection was set up: {_first_line(exc)}") from exc
        except BaseException:
            self._drop()
            raise
        return conn

    def _prepare_session(self, conn: psycopg.Connection[Any], bound_ms: int) -> None:
        settings = {
            "statement_timeout": f"{bound_ms}ms",
            "lock_timeout": f"{bound_ms}ms",
            # The server's side of the socket: notice a vanished holder (dead host, cut
            # network) and free its lock; a killed process is noticed at once anyway.
            "tcp_keepalives_idle": str(max(1, math.ceil(self.check_interval))),
            "tcp_keepalives_interval": "1",
            "tcp_keepalives_count": "3",
        }
        if conn.info.server_version >= 140000:
            # A site-wide idle_session_timeout would end the lease between two checks.
            settings["idle_session_timeout"] = "0"
        for setting, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (setting, value))
        exists = conn.execute("SELECT to_regclass('threadhost_lease') IS NOT NULL").fetchone()
        if not (exists and exists[0]):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", _TABLE_LOCK)
                conn.execute(_CREATE_TABLE)

    def _try_lock(self, conn: psycopg.Connection[Any]) -> LeaseInfo | None:
        name = self.name
        row = conn.execute(_TRY_LOCK, (name,)).fetchone()
        assert row is not None
        self._key, taken = int(row[0]), bool(row[1])
        if not taken:
            return None
        holder = _holder()
        try:
            fenced = conn.execute(_TAKE_ROW, {"name": name, "holder": holder}).fetchone()
        except BaseException:
            self._drop()  # closing the connection frees the lock just taken
            raise
        assert fenced is not None
        self._info = LeaseInfo(name=name, holder=holder, fencing=int(fenced[0]))
        return self._info

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._info = None
        if conn is not None:
            # Closing a dead socket can complain; there is nothing left to free then.
            with contextlib.suppress(psycopg.Error, OSError):
                conn.close()

    def __repr__(self) -> str:
        name = self._explicit_name or self._service or "?"
        info = self._info
        state = f"held fencing={info.fencing}" if info is not None else (
            "standby" if self._conn is not None else "not connected")
        return f"<PostgresLease {name!r} {state}>"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
