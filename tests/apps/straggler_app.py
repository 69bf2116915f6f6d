"""A host with a service that ignores its token: the stop abandons it at a short deadline.
Run with ``--Logging:Console:FormatterName=json`` (or ``simple``) by the logging tests."""

from __future__ import annotations

import sys
import threading

import threadhost as th


class IgnoresItsToken(th.BackgroundService):
    def __init__(self, lifetime: th.HostApplicationLifetime) -> None:
        self.lifetime = lifetime

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.lifetime.application_started.register(self.lifetime.stop_application)
        threading.Event().wait(30)  # deaf to the stop


if __name__ == "__main__":
    builder = th.Host.create_application_builder(
        [*sys.argv[1:], "--HostOptions:ShutdownTimeout=0.2"])
    builder.services.add_hosted_service(IgnoresItsToken)
    sys.exit(builder.build().run())
