"""A host that logs a few records (one with an exception and an ``extra`` field) and stops.

Run with ``--Logging:Console:FormatterName=json`` by the logging tests.
"""

from __future__ import annotations

import logging
import sys

import threadhost as th

log = logging.getLogger("myapp.worker")


class LogsThenStops(th.BackgroundService):
    def __init__(self, lifetime: th.HostApplicationLifetime) -> None:
        self.lifetime = lifetime

    def execute(self, stopping_token: th.CancellationToken) -> None:
        log.info("processed %d orders", 3, extra={"order_batch": "b-17"})
        try:
            {}["missing"]
        except KeyError:
            log.exception("lookup failed\nsecond line")
        # Only once started: a stop requested during start skips "Application started.",
        # which the test looks for (it raced with the start before).
        self.lifetime.application_started.register(self.lifetime.stop_application)


if __name__ == "__main__":
    builder = th.Host.create_application_builder(sys.argv[1:])
    builder.services.add_hosted_service(LogsThenStops)
    sys.exit(builder.build().run())
