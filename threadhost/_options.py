"""Options: ``HostOptions``, ``ConsoleLifetimeOptions`` and the ``Options[T]`` wrapper."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Generic, TypeVar, final

from ._errors import ConfigurationError
from ._restart import RestartPolicy

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
    the deadline; ``restart`` is the default restart policy of every BackgroundService. Raises
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
