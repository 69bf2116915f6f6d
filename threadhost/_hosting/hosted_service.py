"""The hosted-service contracts: what the host starts and stops."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard

from threadhost._time.cancellation import CancellationToken

if TYPE_CHECKING:
    import injector

    from threadhost._hosting.restart import RestartPolicy
    from threadhost._hosting.slot import ServiceSlot


class HostedService(abc.ABC):
    """Something the host starts when it starts and stops when it stops.

    Both methods are called on a host thread, never concurrently with each other for one
    service (unless the host runs a phase concurrently, where services run side by side).
    If ``start`` raises, no later service is started and the host's ``start()`` raises
    ``HostStartupError``. If ``stop`` raises, the error is reported and the other services are
    still stopped.
    """

    @abc.abstractmethod
    def start(self, cancellation_token: CancellationToken) -> None:
        """Start the service. ``cancellation_token`` is cancelled when startup is aborted
        (startup timeout or a stop request): return or raise promptly when it is."""

    @abc.abstractmethod
    def stop(self, cancellation_token: CancellationToken) -> None:
        """Stop the service. ``cancellation_token`` is cancelled when the shutdown deadline
        passes; a call still running then is abandoned and reported as a straggler."""


class HostedLifecycleService(HostedService):
    """A hosted service with hooks around each phase, as .NET's IHostedLifecycleService.

    The host calls, in registration order, every ``starting``, then every ``start``, then
    every ``started``; on stop, in reverse order, every ``stopping``, ``stop``, ``stopped``.
    The hooks run on host threads, take the same token as the phase they surround, and do
    nothing by default. An exception from ``starting``/``started`` fails startup like one
    from ``start``; one from ``stopping``/``stopped`` is reported like one from ``stop``.
    """

    def starting(self, cancellation_token: CancellationToken) -> None:
        """Called before any service's ``start``."""

    def started(self, cancellation_token: CancellationToken) -> None:
        """Called after every service's ``start`` has returned."""

    def stopping(self, cancellation_token: CancellationToken) -> None:
        """Called before any service's ``stop``."""

    def stopped(self, cancellation_token: CancellationToken) -> None:
        """Called after every service's ``stop`` has returned."""


class SlotAttached(HostedService):
    """Internal: a hosted service of threadhost's own that the host hands its slot as soon as
    the slot is made, before any start call, so that the stop reaches it (through
    ``ServiceSlot.on_ask``) even when its start is never made (an earlier service failed to
    start, or the stop came first). QueuedHostedService is one: its queue must then refuse
    work that would never run. An isinstance check on this class, rather than a look-up of a
    method on every service, keeps the host from asking user objects for anything but their
    documented methods."""

    def _attach_slot(self, slot: ServiceSlot) -> None:
        """Called once, on the host's start thread, before any start call; never blocks."""


class BuildChecked(HostedService):
    """Internal: a hosted service of threadhost's own whose registration can be checked at
    ``build()``, before anything is made (a ``CronBackgroundService``'s schedule). The
    builder's one mechanism for such checks: an issubclass check on this class, then this
    class's own method, so it never asks user objects for anything but documented methods."""

    @classmethod
    def _check_registration(cls, name: str, instance: BuildChecked | None) -> None:
        """Raise ConfigurationError naming ``name`` if what is registered (the class, or
        ``instance`` when an instance is) cannot work. Builder thread; never blocks."""


def is_slot_attached(service: HostedService, memo: dict[type, bool]) -> TypeGuard[SlotAttached]:
    """``isinstance(service, SlotAttached)``, the answer kept per class in ``memo``."""
    cls = type(service)
    known = memo.get(cls)
    if known is None:
        known = memo[cls] = isinstance(service, SlotAttached)
    return known


HostedServiceFactory = Callable[["injector.Injector"], HostedService]
"""How the host obtains one hosted service, given the injector (built by ServiceCollection)."""


@dataclass(frozen=True)
class HostedRegistration:
    """One ``add_hosted_service`` call: how to make the service, and its per-service options.
    Called with the injector, it makes the service (the host does so once, at start)."""

    factory: HostedServiceFactory
    service_name: str
    target: object = None  # what it constructs (a class or function), None for an instance
    restart: RestartPolicy | None = None
    liveness_timeout: float | None = None
    adapter: Callable[[HostedService, injector.Injector], HostedService] | None = None
    """Made by a layer above the kernel (a leased service: ``_leases``): the hosted service
    the host runs in place of the one made, which keeps its name, slot and state."""
    name: str | None = None
    """The name the host gives the service in place of its class name (``add_schedule``)."""

    def __call__(self, inj: injector.Injector) -> HostedService:
        return self.factory(inj)


def is_lifecycle(service: HostedService, memo: dict[type, bool]) -> bool:
    """``isinstance(service, HostedLifecycleService)``, the answer kept per class in ``memo``:
    an ABC check is a Python call, and the host asks it of every service at start and stop."""
    cls = type(service)
    known = memo.get(cls)
    if known is None:
        known = memo[cls] = isinstance(service, HostedLifecycleService)
    return known
