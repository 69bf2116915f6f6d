"""One replica of a host whose service is a leased singleton (SPEC §11), for the replica tests.

Usage: lease_replica.py CONNINFO LEASE_NAME REPLICA CHECK_INTERVAL [config args...]

``Job`` records its run in the table ``lease_runs`` (which the tests create): a row when it
starts (with its fencing number), a heartbeat every 50 ms (``ended_at``, ``beats``), and
``finished`` when ``execute`` returns. The heartbeat writes are *not* fenced, on purpose: they
record when each run really ran, so the tests can check that runs never overlap. Prints
``ready`` once the host has started and ``running REPLICA fencing=N`` / ``stopped REPLICA``
around each run; logs go to stderr.
"""

from __future__ import annotations

import sys

import psycopg

import threadhost as th
from threadhost.contrib.postgres import PostgresLease


class Job(th.BackgroundService):
    def __init__(self, conninfo: str, replica: str) -> None:
        self.conninfo = conninfo
        self.replica = replica

    def execute(self, stopping_token: th.CancellationToken) -> None:
        info = th.current_lease()
        assert info is not None, "a leased service runs with its lease"
        with psycopg.connect(self.conninfo, autocommit=True,
                             application_name=f"lease-replica:{self.replica}") as conn:
            row = conn.execute(
                "INSERT INTO lease_runs (lease, replica, pid, fencing, started_at, ended_at) "
                "VALUES (%s, %s, pg_backend_pid(), %s, clock_timestamp(), clock_timestamp()) "
                "RETURNING id", (info.name, self.replica, info.fencing)).fetchone()
            assert row is not None
            run_id = row[0]
            print(f"running {self.replica} fencing={info.fencing}", flush=True)
            while not stopping_token.wait(0.05):
                conn.execute("UPDATE lease_runs SET ended_at = clock_timestamp(), "
                             "beats = beats + 1 WHERE id = %s", (run_id,))
            conn.execute("UPDATE lease_runs SET ended_at = clock_timestamp(), finished = true "
                         "WHERE id = %s", (run_id,))
        print(f"stopped {self.replica}", flush=True)


def main() -> int:
    conninfo, lease_name, replica, check_interval, *args = sys.argv[1:]
    builder = th.Host.create_application_builder(args)
    builder.services.add_hosted_service(
        Job(conninfo, replica),
        singleton=PostgresLease(conninfo, lease_name, check_interval=float(check_interval)))
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.application_started.register(lambda: print("ready", flush=True))
    return host.run()


if __name__ == "__main__":
    sys.exit(main())
