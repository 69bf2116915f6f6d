"""An in-memory lease backend: a real implementation of ``threadhost.Lease`` for tests.

``LeaseTable`` plays the database (one holder per name, a fencing number per name, and
switches for the failures a real backend has); ``InMemoryLease`` is one replica's lease on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import threadhost as th


class LeaseTable:
    """The shared backend. Thread-safe; every method takes the table's lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: dict[str, InMemoryLease] = {}  # guarded by _lock
        self._fencing: dict[str, int] = {}  # guarded by _lock
        self.reachable = True  # False: every call fails as a lost server would

    def holder(self, name: str) -> InMemoryLease | None:
        with self._lock:
            return self._holders.get(name)

    def revoke(self, name: str) -> None:
        """Drop the holder of ``name``, as the server does when it ends the holder's session."""
        with self._lock:
            self._holders.pop(name, None)

    def _take(self, lease: InMemoryLease) -> th.LeaseInfo | None:
        with self._lock:
            if not self.reachable:
                raise ConnectionError("the lease table cannot be reached")
            current = self._holders.get(lease.name)
            if current is not None and current is not lease:
                return None
            self._holders[lease.name] = lease
            self._fencing[lease.name] = self._fencing.get(lease.name, 0) + 1
            return th.LeaseInfo(lease.name, lease.holder, self._fencing[lease.name])

    def _holds(self, lease: InMemoryLease) -> bool:
        with self._lock:
            return self.reachable and self._holders.get(lease.name) is lease

    def _give_back(self, lease: InMemoryLease) -> None:
        with self._lock:
            if self._holders.get(lease.name) is lease:
                del self._holders[lease.name]


class InMemoryLease(th.Lease):
    """One replica's lease on a ``LeaseTable``; ``record`` (if given) sees each call."""

    def __init__(self, table: LeaseTable, name: str | None = None, *,
                 check_interval: float = 5.0, holder: str = "test:1",
                 record: Callable[[str], None] | None = None) -> None:
        self.table = table
        self._name = name
        self.check_interval = check_interval
        self.holder = holder
        self.record = record or (lambda event: None)
        self.calls: dict[str, int] = {"acquire": 0, "check": 0, "release": 0}

    @property
    def name(self) -> str:
        assert self._name is not None, "bind() first"
        return self._name

    def bind(self, service_name: str) -> None:
        if self._name is None:
            self._name = service_name
        if self.check_interval <= 0:
            raise th.ConfigurationError(
                f"InMemoryLease {self._name!r}: check_interval={self.check_interval!r} is "
                "invalid: expected seconds > 0")

    def acquire(self) -> th.LeaseInfo | None:
        self.calls["acquire"] += 1
        info = self.table._take(self)
        self.record(f"{self.holder} acquire -> {info.fencing if info else None}")
        return info

    def check(self) -> bool:
        self.calls["check"] += 1
        held = self.table._holds(self)
        self.record(f"{self.holder} check -> {held}")
        return held

    def release(self) -> None:
        self.calls["release"] += 1
        self.table._give_back(self)
        self.record(f"{self.holder} release")
