"""The bundled demo, run as users run it: ``python -m threadhost demo``."""

from __future__ import annotations

import http.client
import json
import signal
import sqlite3
from pathlib import Path

import pytest

from tests._services import WAIT
from tests._subprocess import App

# The feeder's simulated failures are off here: one that lands while the host is stopping
# (before the feeder is asked) is a real error of the run, exit 1, which a SIGTERM "at any
# moment" would meet now and then. The restart they show is the duration test's.
FAST = ["--Demo:NewOrderEvery=0.05", "--Demo:CheckUpdateTime=0.1", "--Demo:GracePeriodTime=0.2",
        "--Demo:FeederFailsEvery=0"]


def database_state(path: Path) -> tuple[set[int], list[int]]:
    """(ids of confirmed orders, order ids in the outbox, with repeats)."""
    with sqlite3.connect(path) as connection:
        confirmed = {r[0] for r in connection.execute(
            "SELECT id FROM orders WHERE status = 'confirmed'")}
        outbox = [r[0] for r in connection.execute("SELECT order_id FROM outbox")]
    connection.close()
    return confirmed, outbox


def assert_every_confirmed_order_published_once(path: Path) -> set[int]:
    confirmed, outbox = database_state(path)
    assert sorted(outbox) == sorted(confirmed), "confirmed orders and outbox rows differ"
    return confirmed


def test_demo_runs_for_its_duration_and_keeps_the_outbox_invariant(tmp_path: Path) -> None:
    db = tmp_path / "orders.db"
    # 4.5 s: the feeder's fifth order fails at 5.0 s; a duration of 5 s would stop the host at
    # that very moment, and the failure, landing in the stop, would be an error (exit 1).
    with App("-m", "threadhost", "demo", "--duration", "4.5", f"--Demo:Database={db}",
             merge_stderr=True) as app:
        assert app.wait(30) == 0, app.output()
    confirmed = assert_every_confirmed_order_published_once(db)
    assert confirmed, app.output()
    assert any("--duration of 4.5s elapsed" in line for line in app.stdout)
    assert app.stdout[-1].startswith("orders: ") and str(db) in app.stdout[-1]


def test_the_demo_reports_on_its_schedule_in_its_time_zone(tmp_path: Path) -> None:
    with App("-m", "threadhost", "demo", "--duration", "2.5",
             f"--Demo:Database={tmp_path / 'o.db'}", "--Demo:ReportSchedule=* * * * * *",
             "--Demo:ReportTimeZone=Asia/Tokyo", merge_stderr=True) as app:
        assert app.wait(30) == 0, app.output()
    reports = [line for line in app.stdout if "Report for " in line]
    assert len(reports) >= 2, app.output()
    assert all(" JST: " in line and " orders, " in line for line in reports), reports


@pytest.mark.parametrize("moment", [
    "Application started.", "Order 1 confirmed", "Order 3 confirmed",
    "Published OrderConfirmed for order 5", "Order 12 confirmed",
])
def test_sigterm_at_any_moment_loses_no_confirmation(tmp_path: Path, moment: str) -> None:
    db = tmp_path / "orders.db"
    with App("-m", "threadhost", "demo", f"--Demo:Database={db}", *FAST,
             merge_stderr=True) as app:
        app.expect(moment)
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert_every_confirmed_order_published_once(db)


def test_json_logs_option_prints_nothing_but_json_records(tmp_path: Path) -> None:
    db = tmp_path / "orders.db"
    with App("-m", "threadhost", "demo", "--json-logs", "--duration", "0.5",
             f"--Demo:Database={db}") as app:
        assert app.wait(30) == 0, app.output()
    assert app.stdout == [], app.output()
    records = [json.loads(line) for line in app.stderr]  # every line must parse
    [endpoint] = [r for r in records if r["message"].startswith("Health endpoint: http://")]
    assert endpoint["health_endpoint"].startswith("http://127.0.0.1:")
    assert records[-1]["message"].startswith("orders: ") and records[-1]["database"] == str(db)


def test_restart_publishes_confirmations_a_killed_run_left_behind(tmp_path: Path) -> None:
    db = tmp_path / "orders.db"
    with App("-m", "threadhost", "demo", "--duration", "0.3", f"--Demo:Database={db}",
             *FAST) as app:
        assert app.wait(30) == 0
    with sqlite3.connect(db) as connection:  # as if killed between confirm and publish
        connection.execute("UPDATE orders SET status = 'confirmed' WHERE id = 1")
        connection.execute("DELETE FROM outbox WHERE order_id = 1")
    connection.close()
    with App("-m", "threadhost", "demo", "--duration", "0.3", f"--Demo:Database={db}",
             *FAST, merge_stderr=True) as app:
        assert app.wait(30) == 0
    assert any("Order 1 was confirmed but never published" in line for line in app.stdout)
    assert_every_confirmed_order_published_once(db)


def test_demo_serves_the_probes_on_a_free_port_and_prints_the_address(tmp_path: Path) -> None:
    with App("-m", "threadhost", "demo", f"--Demo:Database={tmp_path / 'orders.db'}") as app:
        line = app.expect("Health endpoint: http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        conn.request("GET", "/readyz")
        assert conn.getresponse().status == 200
        conn.close()
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
def test_without_a_database_setting_each_run_gets_a_fresh_file(tmp_path: Path) -> None:
    paths = []
    for _ in range(2):
        with App("-m", "threadhost", "demo", "--duration", "0.2", *FAST,
                 env={"TMPDIR": str(tmp_path)}) as app:
            assert app.wait(30) == 0, app.output()
        summary = next(line for line in app.stdout if "database: " in line)
        paths.append(Path(summary.rpartition("database: ")[2]))
    assert paths[0] != paths[1]
    assert all(p.parent.parent == tmp_path and p.parent.name.startswith("threadhost-demo-")
               for p in paths)
