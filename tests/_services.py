"""Small named test doubles shared by the tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import threadhost as th

WAIT = 10.0  # generous real-time bound for anything that must happen; failing loudly past it


class Recorder:
    """A thread-safe list of events, in the order they happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[str] = []

    def __call__(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.events)


class RecordingLifecycle(th.HostedLifecycleService):
    """Records every hook as '<ClassName>.<hook>'; an optional barrier in every hook."""

    def __init__(self, record: Recorder, barrier: threading.Barrier | None = None) -> None:
        self.record = record
        self.barrier = barrier

    def _hook(self, hook: str) -> None:
        if self.barrier is not None:
            self.barrier.wait()
        self.record(f"{type(self).__name__}.{hook}")

    def starting(self, cancellation_token: th.CancellationToken) -> None:
        self._hook("starting")

    def start(self, cancellation_token: th.CancellationToken) -> None:
        self._hook("start")

    def started(self, cancellation_token: th.CancellationToken) -> None:
        self._hook("started")

    def stopping(self, cancellation_token: th.CancellationToken) -> None:
        self._hook("stopping")

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        self._hook("stop")

    def stopped(self, cancellation_token: th.CancellationToken) -> None:
        self._hook("stopped")


class A(RecordingLifecycle):
    pass


class B(RecordingLifecycle):
    pass


class C(RecordingLifecycle):
    pass


class FailStartService(RecordingLifecycle):
    """Its start raises ValueError('boom at start')."""

    def start(self, cancellation_token: th.CancellationToken) -> None:
        self.record("FailStartService.start")
        raise ValueError("boom at start")


class FailStopService(RecordingLifecycle):
    """Its stop raises ValueError('boom at stop')."""

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        self.record("FailStopService.stop")
        raise ValueError("boom at stop")


class Waiter(th.BackgroundService):
    """Signals ``entered`` when execute begins, waits for its token, counts cleanups."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.cleanups = 0

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.entered.set()
        stopping_token.wait()
        self.cleanups += 1


class IgnoresToken(th.BackgroundService):
    """A straggler: waits on ``release`` (not on its token) until the test lets it go."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.entered.set()
        self.release.wait(WAIT * 6)


class Crashes(th.BackgroundService):
    """Raises RuntimeError('mailer exploded') from execute once ``go`` is set."""

    def __init__(self) -> None:
        self.go = threading.Event()

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.go.wait(WAIT)
        raise RuntimeError("mailer exploded")


class StopsApplication(th.HostedService):
    """Calls stop_application() once the host has started (so run() returns)."""

    def __init__(self, lifetime: th.HostApplicationLifetime) -> None:
        self.lifetime = lifetime

    def start(self, cancellation_token: th.CancellationToken) -> None:
        self.lifetime.application_started.register(self.lifetime.stop_application)

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        pass


def make_builder(*services: object, args: Sequence[str] = (), clock: th.Clock | None = None,
                 **host_options: object) -> th.HostApplicationBuilder:
    """A builder with NullLifetime, the given hosted services and HostOptions overrides; with
    ``clock``, that clock and no console handler (logs reach caplog only)."""
    builder = th.Host.create_application_builder(list(args))
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    if clock is not None:
        builder.services.add_instance(th.Clock, clock)
        builder.logging.clear_providers()
    if host_options:
        builder.services.configure(th.HostOptions, **host_options)
    for service in services:
        builder.services.add_hosted_service(service)  # type: ignore[arg-type]
    return builder


def stop_within(host: th.Host, timeout: float = WAIT) -> th.ShutdownReport:
    """``host.stop()`` on a helper thread; fail loudly (instead of hanging the suite) if it does
    not return within ``timeout`` real seconds."""
    result: list[th.ShutdownReport | BaseException] = []

    def stop() -> None:
        try:
            result.append(host.stop())
        except BaseException as exc:
            result.append(exc)

    stopper = threading.Thread(target=stop, name="test-stopper")
    stopper.start()
    stopper.join(timeout)
    assert not stopper.is_alive(), f"Host.stop() did not return within {timeout}s"
    [outcome] = result
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
