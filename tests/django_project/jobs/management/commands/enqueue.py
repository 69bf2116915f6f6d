"""``manage.py enqueue TASK COUNT [ARG]``: enqueue COUNT runs of jobs.tasks.TASK."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from jobs import tasks


class Command(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("task")
        parser.add_argument("count", type=int)
        parser.add_argument("arg", nargs="?")

    def handle(self, *args: Any, **options: Any) -> None:
        task = getattr(tasks, options["task"])
        with transaction.atomic():
            for n in range(options["count"]):
                if options["task"] in ("record", "record_slow", "record_other"):
                    task.enqueue(n)
                elif options["task"] == "fail":
                    task.enqueue(options["arg"] or "boom")
                else:
                    task.enqueue()
        print(f"enqueued {options['count']}", flush=True)
