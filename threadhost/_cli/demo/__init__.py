"""The demo: the grace-period manager of the .NET microservices guide, in threadhost.

Three services share an SQLite database of orders:

* ``OrderFeeder`` (a BackgroundService) submits a new order every ``NewOrderEvery`` seconds;
  its order source drops now and then (every ``FeederFailsEvery`` orders it raises), and its
  ``RestartPolicy`` (``OnFailure``, backoff from 0.5 s) runs it again: watch the log, and the
  ``restarts`` line of the report at the end;
* ``GracePeriodManager`` (a PeriodicBackgroundService, every ``CheckUpdateTime`` seconds)
  confirms the orders whose grace period (``GracePeriodTime``) is over, and hands each
  confirmation to the queue;
* ``QueuedHostedService`` runs those hand-overs: each "publishes" an ``OrderConfirmed`` event
  by writing it to the outbox table;
* ``OrderReport`` (a CronBackgroundService, ``ReportSchedule`` in ``ReportTimeZone``: every
  ten seconds by default) logs how many orders were submitted, confirmed and published.

The invariant, kept across Ctrl+C and SIGTERM: every confirmed order has exactly one outbox
row. The queue service is registered first, so it is stopped last and drains every
confirmation the manager handed over; and at start the manager re-publishes any confirmed
order without its row (after a kill -9, say). Settings come from the ``appsettings.json``
next to this file, overridable as usual (``--Demo:GracePeriodTime=10``). With
``--postgres CONNINFO`` (``Demo:Postgres``) the grace-period job is a leased singleton, so
several replicas can run side by side on one database file and only one confirms orders.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import threadhost as th
from threadhost._config.configuration import load_json_file
from threadhost._hosting.channel import StopChannel
from threadhost._logging.console import make_formatter

log = logging.getLogger("threadhost.demo")

SETTINGS_FILE = os.path.join(os.path.dirname(__file__), "appsettings.json")
SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    submitted_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'submitted',
    confirmed_at REAL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL UNIQUE REFERENCES orders(id),
    event TEXT NOT NULL,
    published_at REAL NOT NULL
);
"""


@dataclass
class DemoSettings:
    """The ``Demo`` section. Durations in seconds."""

    database: str = ""  # empty: a fresh <temp dir>/threadhost-demo-XXXX/orders.db per run
    new_order_every: float = 1.0
    check_update_time: float = 2.0
    grace_period_time: float = 3.0
    feeder_fails_every: int = 5  # 0: never
    postgres: str = ""  # a conninfo: run the grace-period job as a leased singleton
    report_schedule: str = "*/10 * * * * *"  # cron, seconds first; empty: no report
    report_time_zone: str = "UTC"


_local = threading.local()  # one sqlite3 connection per thread, as sqlite3 wants


def close_thread_connection() -> None:
    """Close this thread's connection; a thread-exit hook of every service thread."""
    connection = getattr(_local, "connection", None)
    if connection is not None:
        connection.close()
        _local.connection = None


class OrdersDb:
    """The orders database; ``connection()`` gives the calling thread its own connection."""

    def __init__(self, settings: th.Options[DemoSettings]) -> None:
        # A fresh file per run unless one is given: a shared default would mix the orders of
        # every run and every user of the machine (and two users cannot share one file).
        path = settings.value.database or os.path.join(
            tempfile.mkdtemp(prefix="threadhost-demo-"), "orders.db")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(SCHEMA)
        connection.close()

    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(_local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30)
            _local.connection = connection
        return connection


class PublishOrderConfirmed:
    """A queued work item: write the OrderConfirmed event of one order to the outbox."""

    def __init__(self, db: OrdersDb, order_id: int, clock: th.Clock) -> None:
        self.db, self.order_id, self.clock = db, order_id, clock

    def __call__(self, token: th.CancellationToken) -> None:
        with self.db.connection() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO outbox (order_id, event, published_at) VALUES (?, ?, ?)",
                (self.order_id, "OrderConfirmed", self.clock.now().timestamp()))
        log.info("Published OrderConfirmed for order %d", self.order_id)

    def __repr__(self) -> str:
        return f"PublishOrderConfirmed(order {self.order_id})"


class OrderSourceDroppedError(ConnectionError):
    """The (simulated) order source went away; the feeder's restart policy deals with it."""


class OrderFeeder(th.BackgroundService):
    """Submits a new order every ``NewOrderEvery`` seconds; every ``FeederFailsEvery`` orders
    its (simulated) source drops and ``execute`` raises, to show a restart."""

    RESTART = th.RestartPolicy(mode=th.RestartMode.ON_FAILURE, backoff=0.5, max_backoff=5,
                               max_restarts=10, within=60)

    def __init__(self, db: OrdersDb, settings: th.Options[DemoSettings],
                 clock: th.Clock) -> None:
        self.db = db
        self.every = settings.value.new_order_every
        self.fails_every = settings.value.feeder_fails_every
        self.clock = clock
        self.submitted = 0

    def execute(self, stopping_token: th.CancellationToken) -> None:
        while not stopping_token.is_cancellation_requested:
            if self.fails_every and self.submitted and self.submitted % self.fails_every == 0:
                self.submitted += 1  # the next run goes on
                raise OrderSourceDroppedError("the order source dropped the connection")
            self.submitted += 1
            with self.db.connection() as connection:
                cursor = connection.execute("INSERT INTO orders (submitted_at) VALUES (?)",
                                            (self.clock.now().timestamp(),))
            log.info("Order %d submitted", cursor.lastrowid)
            stopping_token.wait(self.every)


class GracePeriodManager(th.PeriodicBackgroundService):
    """Confirms the orders past their grace period and queues their OrderConfirmed events."""

    def __init__(self, db: OrdersDb, queue: th.BackgroundTaskQueue,
                 settings: th.Options[DemoSettings], clock: th.Clock) -> None:
        self.db = db
        self.queue = queue
        self.clock = clock
        self.interval = settings.value.check_update_time
        self.grace = settings.value.grace_period_time

    def start(self, cancellation_token: th.CancellationToken) -> None:
        unpublished = [row[0] for row in self.db.connection().execute(
            "SELECT id FROM orders WHERE status = 'confirmed' AND id NOT IN "
            "(SELECT order_id FROM outbox) ORDER BY id")]
        for order_id in unpublished:
            log.warning("Order %d was confirmed but never published; publishing it now",
                        order_id)
            self.queue.enqueue(PublishOrderConfirmed(self.db, order_id, self.clock))
        super().start(cancellation_token)

    def run_once(self, stopping_token: th.CancellationToken) -> None:
        connection = self.db.connection()
        due = self.clock.now().timestamp() - self.grace
        ids = [row[0] for row in connection.execute(
            "SELECT id FROM orders WHERE status = 'submitted' AND submitted_at <= ? ORDER BY id",
            (due,))]
        for order_id in ids:
            if stopping_token.is_cancellation_requested:
                return  # the rest stay submitted, to be confirmed on the next run
            with connection:
                connection.execute(
                    "UPDATE orders SET status = 'confirmed', confirmed_at = ? WHERE id = ?",
                    (self.clock.now().timestamp(), order_id))
            log.info("Order %d confirmed: its grace period is over", order_id)
            self.queue.enqueue(PublishOrderConfirmed(self.db, order_id, self.clock))


class OrderReport(th.CronBackgroundService):
    """Logs the orders' counts at each fire time of ``Demo:ReportSchedule``."""

    def __init__(self, db: OrdersDb, settings: th.Options[DemoSettings]) -> None:
        self.db = db
        self.schedule = settings.value.report_schedule
        self.timezone = settings.value.report_time_zone

    def run_once(self, stopping_token: th.CancellationToken, fire_time: datetime) -> None:
        orders, confirmed = self.db.connection().execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'confirmed'), 0) FROM orders").fetchone()
        log.info("Report for %s: %d orders, %d confirmed", fire_time.strftime("%H:%M:%S %Z"),
                 orders, confirmed)


def summary(path: str) -> str:
    """One line on the state of the database at ``path``."""
    with sqlite3.connect(path) as connection:
        orders, confirmed = connection.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'confirmed'), 0) FROM orders").fetchone()
        published = connection.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    connection.close()
    return (f"orders: {orders} in all, {confirmed} confirmed, {published} published to the "
            f"outbox; database: {path}")


def build(args: Sequence[str]) -> th.HostApplicationBuilder:
    """The demo's builder; ``args`` is its command-line configuration."""
    builder = th.Host.create_application_builder(args)
    # The demo's own appsettings.json goes under every other source, so all of them override it.
    builder.configuration._add_lowest(load_json_file(SETTINGS_FILE, optional=False))
    builder.services.configure(DemoSettings, section="Demo")
    builder.services.add_singleton(OrdersDb)
    builder.services.add_instance(th.BackgroundTaskQueue, th.BackgroundTaskQueue(100))
    # Registered first, so stopped last: it drains every confirmation handed to it.
    builder.services.add_hosted_service(th.QueuedHostedService)
    conninfo = builder.configuration.get("Demo:Postgres") or ""
    if conninfo:
        # Several replicas may run the demo: only the lease holder confirms orders.
        from threadhost.contrib.postgres import PostgresLease  # noqa: PLC0415 (an extra)
        builder.services.add_hosted_service(GracePeriodManager, singleton=PostgresLease(
            conninfo, "threadhost-demo:grace-period", check_interval=2.0))
    else:
        builder.services.add_hosted_service(GracePeriodManager)
    builder.services.add_hosted_service(OrderFeeder, restart=OrderFeeder.RESTART)
    if builder.configuration.get("Demo:ReportSchedule") != "":
        builder.services.add_hosted_service(OrderReport)
    builder.add_thread_exit_hook(close_thread_connection)
    # Probes on a free port (Health:Port in any source picks another): /healthz, /readyz, ...
    builder.use_health_endpoint(port=0)
    return builder


def _address(host: th.Host) -> str:
    address = host.health_endpoint_address
    return f"{address[0]}:{address[1]}" if address is not None else "(none)"


def run_demo(args: Sequence[str], *, json_logs: bool = False,
             duration: float | None = None) -> int:
    """Run the demo until Ctrl+C, SIGTERM or ``duration`` seconds; return the exit code."""
    args = list(args)
    if json_logs:
        args.append("--Logging:Console:FormatterName=json")
    host = build(args).build()
    if duration is not None:
        lifetime = host.services.get(th.HostApplicationLifetime)
        timer = th.CancellationTokenSource(host.services.get(th.Clock))  # type: ignore[type-abstract]
        channel = host.services.get(StopChannel)
        timer.token.register(lambda: channel.request(f"--duration of {duration}s elapsed"))
        lifetime.application_started.register(lambda: timer.cancel_after(duration))
    db = host.services.get(OrdersDb)
    say = _json_say() if json_logs else _print
    host.services.get(th.HostApplicationLifetime).application_started.register(
        lambda: say(f"Health endpoint: http://{_address(host)}/health",
                    health_endpoint=f"http://{_address(host)}/health"))
    code = host.run()
    say(summary(db.path), database=db.path)
    if host.report is not None and host.report.restarts:
        say("restarts: " + ", ".join(f"{name} {count}" for name, count
                                     in host.report.restarts.items()),
            restarts=dict(host.report.restarts))
    return code


def _print(text: str, **fields: object) -> None:
    """The demo's own lines (the probe address, the summary) in the default mode: stdout."""
    print(text, flush=True)


def _json_say() -> Callable[..., None]:
    """With ``--json-logs``: the demo's own lines as JSON records (logger
    ``threadhost.demo.summary``, INFO, ``fields`` as extra fields) on stderr, beside the
    host's; a handler of their own, since the summary comes after the host put its logging
    back."""
    logger = logging.getLogger("threadhost.demo.summary")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(make_formatter("json"))
        logger.addHandler(handler)

    def say(text: str, **fields: object) -> None:
        logger.info("%s", text, extra=fields)
    return say


if __name__ == "__main__":
    sys.exit(run_demo(sys.argv[1:]))
