"""The demo as replicas: ``demo --postgres`` makes its grace-period job a leased singleton."""

from __future__ import annotations

import signal
from pathlib import Path

from tests._subprocess import App
from tests.cli.test_demo import FAST, assert_every_confirmed_order_published_once
from tests.contrib._pg_server import PostgresServer


def demo(server: PostgresServer, database: Path) -> App:
    return App("-m", "threadhost", "demo", "--postgres", server.conninfo,
               f"--Demo:Database={database}", *FAST, merge_stderr=True)


def test_two_demo_replicas_confirm_orders_one_at_a_time_and_hand_over_on_sigterm(
        postgres_server: PostgresServer, tmp_path: Path) -> None:
    database = tmp_path / "orders.db"
    with demo(postgres_server, database) as first:
        first.expect("Lease 'threadhost-demo:grace-period' acquired")
        with demo(postgres_server, database) as second:
            # Only the standby line: the lease thread may log it before the host logs
            # "Application started" (expect reads lines in order, so it would be skipped).
            second.expect("held by another replica")
            first.send(signal.SIGTERM)
            assert first.wait() == 0, first.output()
            second.expect("Lease 'threadhost-demo:grace-period' acquired")
            second.expect("confirmed: its grace period is over")
            second.send(signal.SIGTERM)
            assert second.wait() == 0, second.output()
    assert assert_every_confirmed_order_published_once(database)
