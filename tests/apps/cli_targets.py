"""Targets for ``threadhost run`` in the command-line tests: every kind of ATTR.

Each host prints ``ready <environment> <shutdown_timeout>`` once started and ``cleanup done``
from its worker when stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

import threadhost as th


class Worker(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        print("cleanup done", flush=True)


class Crash(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        raise RuntimeError("boom")


class Announce(th.HostedService):
    def __init__(self, lifetime: th.HostApplicationLifetime, environment: th.HostEnvironment,
                 options: th.HostOptions, config: th.Configuration) -> None:
        self.line = (f"ready {environment.environment_name} {options.shutdown_timeout} "
                     f"greeting={config.get('Greeting')}")
        lifetime.application_started.register(lambda: print(self.line, flush=True))

    def start(self, cancellation_token: th.CancellationToken) -> None:
        pass

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        pass


def make_builder(args: Sequence[str] = ()) -> th.HostApplicationBuilder:
    builder = th.Host.create_application_builder(args)
    builder.services.add_hosted_service(Announce).add_hosted_service(Worker)
    return builder


builder = make_builder()
host = make_builder().build()


def make_host(args: Sequence[str]) -> th.Host:
    return make_builder(args).build()


def make_crashing(args: Sequence[str]) -> th.HostApplicationBuilder:
    crashing = make_builder(args)
    crashing.services.add_hosted_service(Crash)
    return crashing


not_a_host = 42


def make_plain() -> th.HostApplicationBuilder:
    """A target function that takes no arguments."""
    return make_builder()
