"""A host with the probe endpoint (port 0) and systemd integration, for the drain tests.

Prints ``port=PORT`` once started, ``stopping`` when ``application_stopping`` fires and
``cleanup done`` from its worker; configuration comes from the command line.
"""

from __future__ import annotations

import os
import sys

import threadhost as th


def say(line: str) -> None:
    """One ``os.write`` per line, so lines written by two threads never interleave."""
    os.write(1, f"{line}\n".encode())


class Worker(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        say("cleanup done")


def main() -> int:
    builder = th.Host.create_application_builder(sys.argv[1:]).use_systemd()
    builder.use_health_endpoint(port=0)
    builder.services.add_hosted_service(Worker)
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)

    def started() -> None:
        address = host.health_endpoint_address
        assert address is not None
        say(f"port={address[1]}")

    lifetime.application_started.register(started)
    lifetime.application_stopping.register(lambda: say("stopping"))
    return host.run()


if __name__ == "__main__":
    sys.exit(main())
