"""``python manage.py threadhost_tasks [--queue Q]... [--threads N]``: run a ``TaskWorker``.

A ``HostCommand``: the host's configuration comes from ``settings.THREADHOST``, the usual
sources and ``--Key=value`` arguments (``--HostOptions:ShutdownTimeout=30``,
``--Health:Port=8080``); SIGTERM or Ctrl+C stops it (no claim after the stop begins, running
tasks go on until the deadline); the exit code is the host's (3: a task was still running at
the deadline, named in the log).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from threadhost._building.builder import HostApplicationBuilder
from threadhost._errors import ConfigurationError
from threadhost.contrib.django import HostCommand
from threadhost.contrib.django_tasks._worker import TaskWorker


class Command(HostCommand):
    """Runs one ``TaskWorker`` (and its health check, ``tasks``) until SIGTERM or Ctrl+C."""

    help = "Runs Django tasks of the django-tasks-db backend on threads, until Ctrl+C or SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        """``--queue`` (repeatable), ``--threads``, ``--backend``, ``--poll-interval``,
        ``--stale-after``, then the host's ``Key=value`` words."""
        parser.add_argument("--queue", action="append", dest="queues", metavar="Q",
                            help="a queue to serve (repeat for several; default: default)")
        parser.add_argument("--threads", type=int, default=4,
                            help="tasks run at once (default: 4)")
        parser.add_argument("--backend", default="default",
                            help="the alias of a django_tasks_db backend in settings.TASKS")
        parser.add_argument("--poll-interval", type=float, default=1.0,
                            help="seconds an idle thread waits before it looks again")
        parser.add_argument("--stale-after", type=float, default=60.0,
                            help="seconds without a heartbeat after which a worker is presumed "
                                 "dead and its tasks are given back (database clock)")
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        """Check the options, then build and run the host (``HostCommand.handle``).

        Raises CommandError (exit code 2) for a bad option."""
        try:
            self.worker = TaskWorker(
                queues=options.get("queues") or ("default",), threads=options["threads"],
                backend=options["backend"], poll_interval=options["poll_interval"],
                stale_after=options["stale_after"])
            self.worker.check_backend()
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        super().handle(*args, **options)

    def configure_host(self, builder: HostApplicationBuilder) -> None:
        """Register the worker and its health check."""
        builder.services.add_hosted_service(self.worker)
        builder.services.add_health_check("tasks", self.worker.health)
