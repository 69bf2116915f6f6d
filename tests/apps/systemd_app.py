"""A host using ``use_systemd()``, for the systemd tests; prints ``ready`` once started."""

from __future__ import annotations

import sys

import threadhost as th


class Worker(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()


if __name__ == "__main__":
    builder = th.Host.create_application_builder(sys.argv[1:]).use_systemd()
    builder.services.add_hosted_service(Worker)
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.application_started.register(lambda: print("ready", flush=True))
    sys.exit(host.run())
