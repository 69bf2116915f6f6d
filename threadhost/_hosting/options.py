"""Options: ``HostOptions``, ``ConsoleLifetimeOptions``, ``Options[T]`` and ``OptionsMonitor[T]``.

``Options[T]`` is the value bound at ``build()`` (.NET's IOptions); ``OptionsMonitor[T]`` is
the current value, replaced when a watched configuration file changes (.NET's
IOptionsMonitor). Both are injectable for every ``T`` given to ``services.configure``.
"""

from __future__ import annotations

import enum
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, final

from threadhost import _log_messages as log
from threadhost._errors import ConfigurationError
from threadhost._hosting.restart import RestartPolicy
from threadhost._time.cancellation import Registration

T = TypeVar("T")


def _seconds(value: object, *, allow_none: bool = False) -> str | None:
    """Why ``value`` is not a valid duration in seconds, or None if it is."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return "expected a number of seconds >= 0"
    if value < 0:
        return "expected seconds >= 0"
    return None


@final
class BackgroundServiceExceptionBehavior(enum.Enum):
    """What the host does when a BackgroundService's ``execute`` raises.

    Configuration names (any case): ``StopHost``, ``Ignore``.
    """

    STOP_HOST = "StopHost"
    """Log the error and stop the host; ``run()`` then returns 1 (the default, as .NET 6+)."""
    IGNORE = "Ignore"
    """Log the error; the host and its other services keep running."""


@final
@dataclass
class HostOptions:
    """How the host starts and stops (bound from the configuration section ``HostOptions``).

    Durations are seconds on the host's clock. ``shutdown_timeout`` is one deadline for the
    whole stop (``math.inf``: none); ``startup_timeout`` (None: no limit) cancels the start
    token and fails ``start()``; ``shutdown_delay`` is the drain at the start of a stop, inside
    the deadline; ``restart`` is the default restart policy of every BackgroundService;
    ``exit_on_stop`` (``HostOptions:ExitOnStop``) makes ``Host.run()`` on the main thread end
    the process once the stop is over if a non-daemon thread would keep it alive (set False
    when embedding a host in a program that goes on after ``run()``). Raises
    ValueError on construction for a negative or non-numeric duration, and
    ConfigurationError when ``shutdown_delay`` does not fit in ``shutdown_timeout``.
    """

    shutdown_timeout: float = field(default=30.0, metadata={"validate": _seconds})
    startup_timeout: float | None = field(
        default=None, metadata={"validate": lambda v: _seconds(v, allow_none=True)})
    services_start_concurrently: bool = False
    services_stop_concurrently: bool = False
    background_service_exception_behavior: BackgroundServiceExceptionBehavior = (
        BackgroundServiceExceptionBehavior.STOP_HOST)
    shutdown_delay: float = field(default=0.0, metadata={"validate": _seconds})
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    exit_on_stop: bool = True

    def __post_init__(self) -> None:
        for name in ("shutdown_timeout", "startup_timeout", "shutdown_delay"):
            value = getattr(self, name)
            problem = type(self).__dataclass_fields__[name].metadata["validate"](value)
            if problem:
                raise ValueError(f"HostOptions.{name}={value!r} is invalid: {problem}")
        if not isinstance(self.restart, RestartPolicy):
            raise ValueError(f"HostOptions.restart={self.restart!r} is invalid: expected a "
                             "threadhost.RestartPolicy")
        if self.shutdown_delay and self.shutdown_delay >= self.shutdown_timeout:
            raise ConfigurationError(
                f"HostOptions:ShutdownDelay={self.shutdown_delay!r} does not fit in "
                f"HostOptions:ShutdownTimeout={self.shutdown_timeout!r}: the drain counts "
                "against the shutdown deadline, so make the delay shorter than the timeout")


@final
@dataclass
class ConsoleLifetimeOptions:
    """Options of ``ConsoleLifetime`` (configuration section ``ConsoleLifetime``).

    ``suppress_status_messages`` turns off the "Application started..." / "Hosting
    environment..." / "Content root path..." / "Application is shutting down..." lines.
    """

    suppress_status_messages: bool = False


@final
class Options(Generic[T]):
    """The configured value of an options dataclass, as injected: ``Options[MySettings]``.

    Produced by ``ServiceCollection.configure``; ``value`` is built once, when the host is
    built, and is shared (treat it as read-only). Thread-safe to read.
    """

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Options({self.value!r})"


@final
class OptionsMonitor(Generic[T]):
    """The current value of an options dataclass, as injected: ``OptionsMonitor[MySettings]``.

    ``current_value`` starts as the value bound at ``build()`` and is replaced when a JSON
    file added with ``reload_on_change=True`` changes and the new content binds; a change
    that does not parse or bind is logged at ERROR and the last good value stays.
    ``on_change(callback)`` calls ``callback(new_value)`` after each replacement, on the
    host's configuration-watcher thread, never under a lock of ours; an exception from a
    callback is logged and the other callbacks still run. Thread-safe.
    """

    __slots__ = ("_callbacks", "_keys", "_lock", "_type_name", "_value")

    def __init__(self, value: T) -> None:
        self._lock = threading.Lock()
        self._value = value  # replaced in one assignment; read without the lock
        self._callbacks: dict[int, Callable[[T], object]] = {}  # guarded by _lock
        self._keys = itertools.count()
        self._type_name = type(value).__name__

    @property
    def current_value(self) -> T:
        """The latest good value. Any thread; never blocks."""
        return self._value

    def on_change(self, callback: Callable[[T], object]) -> Registration:
        """Call ``callback(new_value)`` after every change; ``unregister()`` stops it.

        Any thread. The callback runs on the configuration-watcher thread.
        """
        with self._lock:
            key = next(self._keys)
            self._callbacks[key] = callback
        # Registration.unregister() pops its key from the source's _callbacks under the
        # source's _lock; the monitor has both, so it serves as the source.
        return Registration(self, key)  # type: ignore[arg-type]

    def _update(self, value: T) -> None:
        """Publish ``value`` and run the callbacks on this thread (the watcher's)."""
        self._value = value
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            try:
                callback(value)
            except Exception as exc:
                log.options_callback_failed(self._type_name, exc)

    def __repr__(self) -> str:
        return f"OptionsMonitor({self._value!r})"
