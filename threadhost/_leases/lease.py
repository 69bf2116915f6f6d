"""``Lease``: what lets a service run on only one replica at a time.

A lease is a passive object: it never starts threads of its own. The host drives it from a
thread it owns for the leased service (``threadhost:lease:<service>``): it calls ``acquire()``
until it gets the lease (the service is STANDBY meanwhile), starts the service, calls
``check()`` every ``check_interval`` seconds on the host's clock, and ``release()`` when the
service stops or the lease is lost (``threadhost._leases.driver`` is that loop). Every method
below is called on that one thread, one call at a time, so an implementation needs no locking
of its own; each call may block on the network, but for a bounded time (the implementation's
own connect/statement timeouts).

Rejected: leases that run their own keep-alive threads (two owners of one lifecycle, and a
keep-alive that outlives the host); ``check()`` as a callback pushed by the lease (the host
could not bound when it runs).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import final

from threadhost._errors import ConfigurationError
from threadhost._hosting.service_thread import current_service_slot


@final
@dataclass(frozen=True)
class LeaseInfo:
    """A lease held: ``name``, ``holder`` (``HOSTNAME:PID``) and ``fencing``, a number that
    increases strictly with every acquisition of that name, across replicas and restarts.

    Pass ``fencing`` to the writes your job makes, so a store can reject an old holder.
    """

    name: str
    holder: str
    fencing: int


class Lease(abc.ABC):
    """The contract of a lease backend (``threadhost.contrib.postgres.PostgresLease`` ships).

    Register one per service: ``services.add_hosted_service(Job, singleton=lease)``. The host
    calls ``bind`` on the builder thread at ``build()``, then every other method on the lease's
    own host thread (see the module notes): never concurrently, never under a lock of ours.
    """

    check_interval: float = 5.0
    """Seconds on the host's clock between two ``check()`` calls, and between two tries to
    acquire while another replica holds the lease."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The lease's name: replicas that share it run the service one at a time."""

    @abc.abstractmethod
    def bind(self, service_name: str) -> None:
        """Called once at ``build()`` with the service's name (the default lease name).

        Raise ``ConfigurationError`` naming the lease for a malformed setting (a conninfo that
        does not parse, a non-positive interval); ``build()`` then fails with it.
        """

    @abc.abstractmethod
    def acquire(self) -> LeaseInfo | None:
        """Try once to take the lease: its info if taken, None if another holder has it.

        Raises ``ConnectionError`` (or another ``OSError``) when the backend cannot be
        reached; the host logs it once per change and tries again after ``check_interval``
        (any other exception is treated the same way: the service stays on standby).
        """

    @abc.abstractmethod
    def check(self) -> bool:
        """True while the lease taken by ``acquire`` is still held; False once it is lost
        (the connection or the lock is gone). Must not raise for a lost backend."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lease up (if held) and free what the lease holds (its connection); must
        not raise for a lost backend. Idempotent. Called after the service stopped (never
        while it may still run), after ``check()`` returned False, and when the host stops
        while the lease is on standby; ``acquire()`` may be called again afterwards."""


def bind_leases(leased: Iterable[tuple[str, Lease]]) -> None:
    """Internal, for ``build()``: bind each ``(service name, lease)`` pair, in order.

    Runs on the builder thread. Raises ``ConfigurationError`` for whatever a lease's ``bind``
    rejects, and when two services on one host share a lease name (each replica would then
    compete with itself, and one service would never run).
    """
    seen: dict[str, str] = {}
    for service, lease in leased:
        lease.bind(service)
        other = seen.setdefault(lease.name, service)
        if other != service:
            raise ConfigurationError(
                f"Services {other!r} and {service!r} both use the lease {lease.name!r}: give "
                f"each leased service a lease name of its own (PostgresLease(..., name=...)).")


LEASE_KEY = "threadhost.lease"
"""Where a leased service's slot keeps the ``LeaseInfo`` it holds (``ServiceSlot.context``)."""


def current_lease() -> LeaseInfo | None:
    """The lease held now for the service whose thread calls this, or None.

    Call it on the service's own thread (inside ``execute``, ``run_once``, or a ``start`` the
    lease thread makes); threads the service starts itself do not see it, so pass the info on
    to them. None once the lease is lost or released. Thread-safe; never blocks.
    """
    slot = current_service_slot()
    if slot is None:
        return None
    info = slot.context.get(LEASE_KEY)
    return info if isinstance(info, LeaseInfo) else None
