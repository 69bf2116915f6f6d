"""threadhost: the .NET Generic Host for synchronous Python.

Hosted services with a start/stop lifecycle, background services that each run on their own
thread with a stopping token, an application lifetime driven by signals, layered
configuration, logging, dependency injection and a clock that tests can fake.
"""

from __future__ import annotations

from ._background_service import BackgroundService
from ._builder import HostApplicationBuilder
from ._cancellation import CancellationToken, CancellationTokenSource, Registration
from ._clock import Clock, SystemClock
from ._configuration import Configuration
from ._console_lifetime import ConsoleLifetime
from ._environment import HostEnvironment
from ._errors import ConfigurationError, HostStartupError, OperationCanceledError, QueueFullError
from ._health import HealthReport, HealthStatus, ServiceHealth
from ._host import Host
from ._hosted_service import HostedLifecycleService, HostedService
from ._lease import Lease, LeaseInfo, current_lease
from ._lifetime import HostApplicationLifetime, HostLifetime, NullLifetime
from ._logging import LoggingBuilder
from ._options import (
    BackgroundServiceExceptionBehavior,
    ConsoleLifetimeOptions,
    HostOptions,
    Options,
    OptionsMonitor,
)
from ._periodic import PeriodicBackgroundService
from ._report import ServiceError, ShutdownReport, Straggler, UnfinishedWork
from ._restart import RestartMode, RestartPolicy
from ._services import ServiceCollection
from ._states import ServiceState
from ._sync import Event, Queue
from ._task_queue import BackgroundTaskQueue, QueuedHostedService
from ._version import __version__ as __version__

__all__ = [
    "BackgroundService",
    "BackgroundServiceExceptionBehavior",
    "BackgroundTaskQueue",
    "CancellationToken",
    "CancellationTokenSource",
    "Clock",
    "Configuration",
    "ConfigurationError",
    "ConsoleLifetime",
    "ConsoleLifetimeOptions",
    "Event",
    "HealthReport",
    "HealthStatus",
    "Host",
    "HostApplicationBuilder",
    "HostApplicationLifetime",
    "HostEnvironment",
    "HostLifetime",
    "HostOptions",
    "HostStartupError",
    "HostedLifecycleService",
    "HostedService",
    "Lease",
    "LeaseInfo",
    "LoggingBuilder",
    "NullLifetime",
    "OperationCanceledError",
    "Options",
    "OptionsMonitor",
    "PeriodicBackgroundService",
    "Queue",
    "QueueFullError",
    "QueuedHostedService",
    "Registration",
    "RestartMode",
    "RestartPolicy",
    "ServiceCollection",
    "ServiceError",
    "ServiceHealth",
    "ServiceState",
    "ShutdownReport",
    "Straggler",
    "SystemClock",
    "UnfinishedWork",
    "current_lease",
]

_DEFINED_IN: dict[str, str] = {}
"""Public name -> the private module that defines it (for the API-docs build, _apidocs)."""

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("threadhost._"):
        _DEFINED_IN[_name] = _obj.__module__
        _obj.__module__ = "threadhost"
del _name, _obj
