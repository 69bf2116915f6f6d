"""PostgresLease: acquisition latency and takeover times, against a local PostgreSQL server.

* acquisition: ``PostgresLease.acquire()`` on a fresh lease (connect, session settings, the
  advisory lock, the fencing row), beside the bare psycopg baseline doing the least anyone
  would (``psycopg.connect`` + ``pg_try_advisory_lock``); and a standby's retry on its open
  connection (``acquire()`` while another session holds the lock) beside a bare
  ``pg_try_advisory_lock`` query. Real time, ``time.perf_counter``.
* takeover: two replicas of ``tests/apps/lease_replica.py``; the holder gets SIGTERM (or
  SIGKILL) and the time is taken from the signal to the moment the other replica's service
  starts (its first row in ``lease_runs``, stamped by the server's ``clock_timestamp()``; the
  server runs on this machine, so one wall clock measures both ends).

Medians over REPEAT runs, printed next to ``check_interval`` (the bound is check_interval +
2 s after SIGTERM and check_interval + 5 s after SIGKILL). Takeover needs the host to run
``add_hosted_service(..., singleton=lease)``; without it that part says so and is skipped.

Run: python benchmarks/bench_lease.py [--repeat 5] [--check-interval 1.0] [--conninfo ...]
(without --conninfo it starts a throwaway server, as the tests do).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests._subprocess import App  # noqa: E402
from tests.contrib._pg_server import PostgresServer, find_bindir, poll_until  # noqa: E402
from threadhost.contrib.postgres import PostgresLease  # noqa: E402


@contextlib.contextmanager
def server_conninfo(conninfo: str | None) -> Iterator[str]:
    if conninfo is not None:
        yield conninfo
        return
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL server binaries found: pass --conninfo or install them")
    with PostgresServer(bindir) as server:
        yield server.conninfo


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def acquisition(conninfo: str, repeat: int, check_interval: float) -> dict[str, float]:
    cold, bare_cold, warm, bare_warm = [], [], [], []
    for _ in range(repeat):
        name = f"bench-{uuid.uuid4().hex[:8]}"
        lease = PostgresLease(conninfo, name, check_interval=check_interval)
        lease.bind("Bench")
        cold.append(timed(lease.acquire))
        standby = PostgresLease(conninfo, name, check_interval=check_interval)
        standby.bind("Bench")
        standby.acquire()  # connects; the retries below reuse the connection
        warm.append(timed(standby.acquire))
        standby.release()
        lease.release()

        key = f"bench-bare-{uuid.uuid4().hex[:8]}"
        began = time.perf_counter()
        conn = psycopg.connect(conninfo, autocommit=True)
        conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,))
        bare_cold.append(time.perf_counter() - began)
        began = time.perf_counter()
        conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()
        bare_warm.append(time.perf_counter() - began)
        conn.close()
    return {"cold": statistics.median(cold), "bare cold": statistics.median(bare_cold),
            "warm": statistics.median(warm), "bare warm": statistics.median(bare_warm)}


def _prepare_runs_table(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("""CREATE TABLE IF NOT EXISTS lease_runs (
            id bigserial PRIMARY KEY, lease text NOT NULL, replica text NOT NULL, pid int,
            fencing bigint NOT NULL, started_at timestamptz NOT NULL,
            ended_at timestamptz NOT NULL, beats int NOT NULL DEFAULT 0,
            finished boolean NOT NULL DEFAULT false)""")


def _runs(conninfo: str, lease: str) -> list[tuple[str, datetime]]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute("SELECT replica, started_at FROM lease_runs WHERE lease = %s "
                            "ORDER BY id", (lease,)).fetchall()
    return [(str(r[0]), r[1]) for r in rows]


def takeover_once(conninfo: str, sig: signal.Signals, check_interval: float) -> float:
    """Seconds from the signal to the other replica's service starting."""
    lease = f"bench-{uuid.uuid4().hex[:8]}"
    apps = {r: App("tests/apps/lease_replica.py", conninfo, lease, r, str(check_interval),
                   "--HostOptions:ShutdownTimeout=5") for r in ("a", "b")}
    try:
        for app in apps.values():
            app.expect("ready", timeout=30)
        first = poll_until(lambda: _runs(conninfo, lease), timeout=30,
                           what="a replica running the service")[0][0]
        signalled = datetime.now(UTC)
        apps[first].send(sig)
        runs = poll_until(lambda: (r := _runs(conninfo, lease))[1:] and r,
                          timeout=check_interval + 30, what="the takeover")
        return (runs[1][1] - signalled).total_seconds()
    finally:
        for app in apps.values():
            if app.proc.poll() is None:
                app.send(signal.SIGTERM)
        for app in apps.values():
            with app:
                app.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--check-interval", type=float, default=1.0)
    parser.add_argument("--conninfo", default=None)
    args = parser.parse_args()
    with server_conninfo(args.conninfo) as conninfo:
        figures = acquisition(conninfo, args.repeat, args.check_interval)
        print(f"check_interval = {args.check_interval:.1f} s; medians of {args.repeat} runs")
        print(f"acquire, fresh lease    {figures['cold'] * 1e3:7.2f} ms   bare connect + "
              f"try-lock {figures['bare cold'] * 1e3:7.2f} ms   "
              f"ratio {figures['cold'] / figures['bare cold']:.2f}")
        print(f"acquire, standby retry  {figures['warm'] * 1e3:7.2f} ms   bare try-lock "
              f"query    {figures['bare warm'] * 1e3:7.2f} ms   "
              f"ratio {figures['warm'] / figures['bare warm']:.2f}")
        _prepare_runs_table(conninfo)
        for sig, bound in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            try:
                times = [takeover_once(conninfo, sig, args.check_interval)
                         for _ in range(args.repeat)]
            except AssertionError as exc:
                if "singleton" in str(exc):
                    print(f"takeover after {sig.name}: needs the host wiring of "
                          "add_hosted_service(..., singleton=lease); skipped")
                    continue
                raise
            print(f"takeover after {sig.name:7}  median {statistics.median(times):5.2f} s   "
                  f"max {max(times):5.2f} s   bound check_interval + {bound:.0f} s = "
                  f"{args.check_interval + bound:.1f} s")


if __name__ == "__main__":
    main()
