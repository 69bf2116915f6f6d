"""Scoped services: one instance per unit of work, as .NET's ``AddScoped`` / ``CreateScope``.

``ServiceCollection.add_scoped(I)`` binds ``I`` to a ``ScopedProvider``. ``create_scope``
makes a child injector carrying a fresh cache: resolving ``I`` through it (directly or as a
dependency of something the child builds) makes the instance once and then returns it again;
when the ``with`` block ends, the instances that are context managers are exited, newest
first. Resolving ``I`` where no scope is active (from the root injector, or while building a
singleton, which lives longer than any scope) raises ``ScopeError`` saying so.

Chosen: the cache lives on the child injector, found by walking ``injector.parent``, because
injector passes the injector that ``get`` was called on to the provider. Rejected: a
thread-local "current scope" (a scope would leak into unrelated work on the same thread and
would not follow work handed to another thread) and injector's own ``Scope`` classes (a
``Scope`` is one instance per injector tree and is not told which child asked).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

import injector

T = TypeVar("T")

_ATTRIBUTE = "_threadhost_scope"


class ScopeError(RuntimeError):
    """A scoped service was resolved outside a scope."""


class _ScopeCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.instances: dict[Any, Any] = {}  # guarded by lock; insertion order = creation
        self.closed = False  # guarded by lock


class ScopedProvider(injector.Provider[T]):
    """Makes ``interface`` with ``inner`` once per scope (see the module notes)."""

    def __init__(self, interface: Any, inner: injector.Provider[T]) -> None:
        self.interface = interface
        self.inner = inner

    def get(self, inj: injector.Injector) -> T:
        cache = _find_cache(inj)
        label = getattr(self.interface, "__qualname__", repr(self.interface))
        if cache is None:
            raise ScopeError(
                f"Cannot resolve {label} outside a scope: it is registered with add_scoped. "
                f"Resolve it inside `with host.create_scope() as scope: scope.get({label})`; "
                "a singleton cannot depend on a scoped service (register it as scoped or "
                "transient instead).")
        with cache.lock:
            if cache.closed:
                raise ScopeError(f"Cannot resolve {label}: its scope has ended.")
            if self.interface in cache.instances:
                return cache.instances[self.interface]  # type: ignore[no-any-return]
        made = self.inner.get(inj)  # outside the lock: user code (its __init__) runs here
        with cache.lock:
            kept = cache.instances.setdefault(self.interface, made)
        if kept is not made:  # another thread of the same scope won the race
            _exit(made)
        return kept  # type: ignore[no-any-return]


def _find_cache(inj: injector.Injector | None) -> _ScopeCache | None:
    while inj is not None:
        cache = getattr(inj, _ATTRIBUTE, None)
        if cache is not None:
            return cache  # type: ignore[no-any-return]
        inj = inj.parent
    return None


def _exit(instance: object) -> None:
    exit_ = getattr(instance, "__exit__", None)
    if exit_ is not None:
        exit_(None, None, None)


@contextlib.contextmanager
def create_scope(parent: injector.Injector) -> Iterator[injector.Injector]:
    """A child injector of ``parent`` in which scoped services are made once and shared.

    Any thread. On exit, scoped instances that are context managers are exited (newest
    first, every one even if some raise; the errors are raised together as an
    ExceptionGroup). Services bound in the parent (singletons, transients, options) resolve
    through the child as usual.
    """
    child = parent.create_child_injector()
    cache = _ScopeCache()
    setattr(child, _ATTRIBUTE, cache)
    try:
        yield child
    finally:
        with cache.lock:
            cache.closed = True
            instances = list(reversed(cache.instances.values()))
            cache.instances.clear()
        errors: list[Exception] = []
        for instance in instances:
            try:
                _exit(instance)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise ExceptionGroup("scoped services raised while their scope was closed",
                                 errors)
