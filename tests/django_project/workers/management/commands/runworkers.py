"""A ``runworkers`` command: one BackgroundService that writes through the ORM."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import connections

import threadhost as th
from tests.apps.broken_app import add_broken_worker
from threadhost.contrib.django import HostCommand, close_old_connections
from workers.models import Event


class OrmWriter(th.BackgroundService):
    """Records the configuration it sees, then a cleanup row once asked to stop."""

    def __init__(self, config: th.Configuration) -> None:
        section = config.get_section("Workers")
        self.seen = ",".join(section.get(k) or "-" for k in "ABC")
        self.connection: Any = None

    def execute(self, stopping_token: th.CancellationToken) -> None:
        me = threading.current_thread().name
        close_old_connections()
        Event.objects.create(name="config", value=self.seen, thread=me)
        logging.getLogger("workers.orm").info("wrote the config row")
        self.connection = connections["default"]  # this thread's own connection
        print("ready", flush=True)
        stopping_token.wait()
        Event.objects.create(name="cleanup", value="done", thread=me)


class Command(HostCommand):
    help = "Runs the ORM writer until Ctrl+C or SIGTERM."

    def configure_host(self, builder: th.HostApplicationBuilder) -> None:
        if builder.configuration.get("Broken"):  # the error-path tests: a worker never made
            add_broken_worker(builder)
            return
        self.writer = OrmWriter(builder.configuration)
        builder.services.add_hosted_service(self.writer)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            super().handle(*args, **options)
        finally:
            writer = getattr(self, "writer", None)  # None when the configuration was bad
            if writer is not None:
                closed = writer.connection is not None and writer.connection.connection is None
                print(f"worker connection closed: {closed}", flush=True)
