"""threadhost: the .NET Generic Host for synchronous Python.

Hosted services with a start/stop lifecycle, background services that each run on their own
thread with a stopping token, an application lifetime driven by signals, layered
configuration, logging, dependency injection and a clock that tests can fake.
"""

# Layout (each box imports only from the boxes below it; tests/test_layout.py checks):
#
#   _cli          python -m threadhost, the demo, the scaffold
#   _building     builder, Host facade, service collection, autowire, scopes, reload
#   _services  _schedules  _leases  _ops  _process  _config  _logging
#                 ready-made services, cron schedules, leased singletons, health/endpoint/metrics,
#                 console lifetime/signals/systemd, configuration, logging setup
#   _hosting      the kernel: contracts, states, plans, start, stop, budget, slots,
#                 lifetime, supervision, options, report
#   _time         clock, cancellation, clock-aware Event/Queue
#   leaves        _errors, _interrupt, _log_messages, _guarded_log, _version

from __future__ import annotations

from threadhost._building.builder import HostApplicationBuilder
from threadhost._building.collection import ServiceCollection
from threadhost._building.host import Host
from threadhost._config.configuration import Configuration
from threadhost._errors import (
    ConfigurationError,
    HostStartupError,
    OperationCanceledError,
    QueueFullError,
)
from threadhost._hosting.background_service import BackgroundService
from threadhost._hosting.environment import HostEnvironment
from threadhost._hosting.hosted_service import HostedLifecycleService, HostedService
from threadhost._hosting.lifetime import HostApplicationLifetime, HostLifetime, NullLifetime
from threadhost._hosting.options import (
    BackgroundServiceExceptionBehavior,
    ConsoleLifetimeOptions,
    HostOptions,
    Options,
    OptionsMonitor,
)
from threadhost._hosting.report import ServiceError, ShutdownReport, Straggler, UnfinishedWork
from threadhost._hosting.restart import RestartMode, RestartPolicy
from threadhost._hosting.states import ServiceState
from threadhost._leases.lease import Lease, LeaseInfo, current_lease
from threadhost._logging.console import LoggingBuilder
from threadhost._ops.health import HealthReport, HealthStatus, ServiceHealth
from threadhost._process.console_lifetime import ConsoleLifetime
from threadhost._schedules.cron import CronEngine, CronSchedule
from threadhost._schedules.service import CronBackgroundService
from threadhost._schedules.state import LocalScheduleState, ScheduleState
from threadhost._services.periodic import PeriodicBackgroundService
from threadhost._services.task_queue import BackgroundTaskQueue, QueuedHostedService
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource, Registration
from threadhost._time.clock import Clock, SystemClock
from threadhost._time.sync import Event, Queue
from threadhost._version import __version__ as __version__

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
    "CronBackgroundService",
    "CronEngine",
    "CronSchedule",
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
    "LocalScheduleState",
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
    "ScheduleState",
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

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("threadhost._"):
        _obj.__module__ = "threadhost"
del _name, _obj
