"""One replica of a host with a schedule run once across replicas, for the schedule tests.

Usage: schedule_replica.py CONNINFO NAME REPLICA [config args...]

The schedule NAME fires every second; it runs on the holder of the lease NAME only
(``singleton=``), and each fire time is claimed in ``PostgresScheduleState`` first. Each run
records its fire time in ``schedule_runs`` (which the tests create). Prints ``ready`` once the
host has started; logs (the misfire WARNINGs included) go to stderr.
"""

from __future__ import annotations

import sys
from datetime import datetime

import psycopg

import threadhost as th
from threadhost.contrib.postgres import PostgresLease, PostgresScheduleState


def main() -> int:
    conninfo, name, replica, *args = sys.argv[1:]
    db = psycopg.connect(conninfo, autocommit=True, application_name=f"schedule:{replica}")

    def record(stopping_token: th.CancellationToken, fire_time: datetime) -> None:
        db.execute("INSERT INTO schedule_runs (name, fire, replica) VALUES (%s, %s, %s)",
                   (name, fire_time, replica))

    builder = th.Host.create_application_builder(args)
    builder.services.add_schedule(
        record, "* * * * * *", name=name, state=PostgresScheduleState(conninfo),
        singleton=PostgresLease(conninfo, name, check_interval=1.0))
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.application_started.register(lambda: print("ready", flush=True))
    try:
        return host.run()
    finally:
        db.close()


if __name__ == "__main__":
    sys.exit(main())
