"""Health and readiness: ``HealthStatus``, ``ServiceHealth``, ``HealthReport`` and the monitor
behind ``Host.health()``.

What a report is made of, and who measures it:

* each service's state, restarts, failures and last error are read from its ``ServiceSlot``,
  lock-free (single-reference reads): ``health()`` never waits for a service, however stuck;
* ``heartbeat_age`` (RUNNING or STOPPING services only: the states in which a service's work
  runs) is host-clock time since ``slot.heartbeat_at``, which holds the later of
  the last heartbeat and the start of the current run (``BackgroundService`` records both), so
  "since the last heartbeat, or since the run began if it has not heartbeated yet" is one
  subtraction; a service with no work of its own (a plain ``HostedService``) has no age;
* custom checks run on a short-lived thread each, ``threadhost:health:<name>``, never on the
  asking thread, under no lock of ours; the asker waits for all of them together at most
  ``CHECK_LIMIT`` seconds of *real* time (``SYSTEM_CLOCK``: the limit protects probes from
  hung I/O, which happens in real time even under a ``FakeClock``). A check still running
  when the next ``health()`` comes is not started again: that call waits for the same run
  (so a hung check holds one thread, not one per probe, and many probes at once share one run).

Rejected: a pool of check threads owned by the host (a hung check would occupy a worker for
good and starve the others; a short-lived thread per run costs ~0.1 ms, and probes come a few
times a minute); running checks inline on the asking thread (a hung check would hang the
probe, and the 1 s limit could not be kept); caching the status between calls (a probe must
see a failure at once, and the 1000-service report costs about a millisecond).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, final

from threadhost._hosting.states import ServiceState
from threadhost._ops import messages
from threadhost._schedules.service import SCHEDULE_KEY, ScheduleStatus
from threadhost._time.cancellation import CancellationTokenSource
from threadhost._time.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from threadhost._hosting.lifetime import HostApplicationLifetime
    from threadhost._hosting.registry import ThreadRegistry

CHECK_LIMIT = 1.0
"""Real seconds ``health()`` waits for its custom checks (all of them, run side by side)."""


@final
class HealthStatus(enum.Enum):
    """How healthy a host (or one custom check) is: ``HEALTHY``, ``DEGRADED``, ``UNHEALTHY``."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


HealthCheck = Callable[[], HealthStatus | bool]
"""A custom check: returns a ``HealthStatus``, or a bool (False means UNHEALTHY)."""


@final
@dataclass(slots=True)
class ServiceHealth:
    """One hosted service as ``health()`` saw it: a snapshot made for each call (changing it
    changes nothing; not frozen, because a frozen dataclass costs 3x as much to make, and a
    report makes one per service).

    ``heartbeat_age`` is seconds on the host's clock since the last heartbeat (or since the
    current run began, if it has not heartbeated yet); None when the service is not running
    or has no work of its own to heartbeat. ``next_fire`` is a schedule's next fire time
    (``CronBackgroundService``, aware, in the schedule's zone); None for other services.
    """

    state: ServiceState
    restarts: int
    failures: int
    last_error: str | None
    heartbeat_age: float | None
    next_fire: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``state`` as its value (``"running"``), ``next_fire`` in ISO 8601 (only
        for a schedule), the rest as they are."""
        made = {"state": self.state.value, "restarts": self.restarts,
                "failures": self.failures, "last_error": self.last_error,
                "heartbeat_age": self.heartbeat_age}
        if self.next_fire is not None:
            made["next_fire"] = self.next_fire.isoformat()
        return made


@final
@dataclass(frozen=True)
class HealthReport:
    """The host's health at one moment: what ``Host.health()`` returns (immutable).

    ``status``: UNHEALTHY if a service has FAILED, a heartbeat is older (strictly) than its
    service's ``liveness_timeout``, or a custom check says so (or raised, or did not answer
    within 1 s of real time); DEGRADED if a service is RESTARTING or a check says DEGRADED;
    else HEALTHY. ``ready``: True from ``application_started`` until a stop is requested, and
    only while the status is not UNHEALTHY. ``services``: name → ``ServiceHealth``, in
    registration order (empty before ``start()``). ``checks``: name → ``HealthStatus`` of each
    custom check; ``check_errors``: name → why, for each check that raised, timed out or
    returned something else than a status or a bool.
    """

    status: HealthStatus
    ready: bool
    services: Mapping[str, ServiceHealth]
    checks: Mapping[str, HealthStatus]
    check_errors: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``json.dumps`` takes it as it is); enums as their values."""
        return {
            "status": self.status.value,
            "ready": self.ready,
            "services": {name: each.to_dict() for name, each in self.services.items()},
            "checks": {name: {"status": status.value, "error": self.check_errors.get(name)}
                       for name, status in self.checks.items()},
        }


class _Run:
    """One call of one check, on its own thread. ``status``/``error`` are written once by
    that thread before it cancels ``done``; read only after ``done`` is cancelled."""

    __slots__ = ("done", "error", "status")

    def __init__(self) -> None:
        self.done = CancellationTokenSource(SYSTEM_CLOCK)
        self.status = HealthStatus.UNHEALTHY
        self.error: str | None = None


def _judge(answer: object) -> tuple[HealthStatus, str | None]:
    if isinstance(answer, HealthStatus):
        return answer, None
    if isinstance(answer, bool):
        return (HealthStatus.HEALTHY if answer else HealthStatus.UNHEALTHY), None
    return HealthStatus.UNHEALTHY, (f"returned {answer!r}; a check must return a "
                                    "threadhost.HealthStatus or a bool")


def describe_error(exc: BaseException) -> str:
    """``Type: message`` for a report; never raises (a broken ``__str__`` included)."""
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@final
class HealthMonitor:
    """Computes ``HealthReport``s for one host (internal; ``Host.health()`` is the public face).

    ``add_check`` runs on the builder thread before the host is built; ``report()`` and
    ``status()`` may be called from any thread, concurrently, and block at most
    ``CHECK_LIMIT`` real seconds (only when custom checks are registered).
    """

    def __init__(self) -> None:
        self._checks: dict[str, HealthCheck] = {}  # filled on the builder thread, then read
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}  # guarded by _lock: the run of each check under way
        self._failing: set[str] = set()  # guarded by _lock: checks last seen failing (logging)
        self._registry: ThreadRegistry | None = None
        self._app: HostApplicationLifetime | None = None
        self._clock: Clock = SYSTEM_CLOCK
        self.endpoint_address: tuple[str, int] | None = None  # set by the endpoint, once bound

    def add_check(self, name: str, check: HealthCheck) -> None:
        """Register ``check`` under ``name``. Raises TypeError for a non-callable or a
        non-string name, ValueError for an empty or duplicate name."""
        if not isinstance(name, str):
            raise TypeError(f"add_health_check(name={name!r}): the name must be a str")
        if not name:
            raise ValueError("add_health_check(name=''): the name must not be empty")
        if not callable(check):
            raise TypeError(f"add_health_check({name!r}, check={check!r}): the check must be "
                            "a callable taking no argument and returning a HealthStatus or a "
                            "bool")
        if name in self._checks:
            raise ValueError(f"add_health_check({name!r}): a check of that name is already "
                             "registered; give each check its own name")
        self._checks[name] = check

    def attach(self, registry: ThreadRegistry, app: HostApplicationLifetime,
               clock: Clock) -> None:
        """Bind to the host's slots, lifetime and clock (``Host.__init__``, once)."""
        self._registry, self._app, self._clock = registry, app, clock

    # -- reports -----------------------------------------------------------------------------

    def report(self) -> HealthReport:
        """The health now; see ``HealthReport``. Never raises."""
        checks, errors = self._run_checks()
        services: dict[str, ServiceHealth] = {}
        unhealthy = degraded = False
        registry = self._registry
        if registry is not None:
            now = self._clock.monotonic()
            # Identity tests, not set lookups: Enum.__hash__ is Python code, and this loop
            # is the whole cost of a report (1000 services: under a millisecond).
            running, stopping = ServiceState.RUNNING, ServiceState.STOPPING
            failed, restarting = ServiceState.FAILED, ServiceState.RESTARTING
            for slot in registry.slots:
                state = slot.state
                beat = slot.heartbeat_at
                age = None
                if beat is not None and (state is running or state is stopping):
                    age = now - beat if now > beat else 0.0
                    limit = slot.liveness_timeout
                    if limit is not None and age > limit:
                        unhealthy = True
                if state is failed:
                    unhealthy = True
                elif state is restarting:
                    degraded = True
                error = slot.last_error
                schedule = slot.context.get(SCHEDULE_KEY)
                services[slot.name] = ServiceHealth(
                    state, slot.restarts, slot.failures,
                    None if error is None else describe_error(error), age,
                    schedule.next_fire if isinstance(schedule, ScheduleStatus) else None)
        for status in checks.values():
            if status is HealthStatus.UNHEALTHY:
                unhealthy = True
            elif status is HealthStatus.DEGRADED:
                degraded = True
        status = (HealthStatus.UNHEALTHY if unhealthy
                  else HealthStatus.DEGRADED if degraded else HealthStatus.HEALTHY)
        app = self._app
        ready = (app is not None and not app.stop_requested
                 and app.application_started.is_cancellation_requested
                 and status is not HealthStatus.UNHEALTHY)
        return HealthReport(status, ready, services, checks, errors)

    def status(self) -> HealthStatus:
        """``report().status`` (any thread; same limits)."""
        return self.report().status

    def ready(self) -> bool:
        """``report().ready``, without running the checks when the answer is already False
        (a stop was requested, or the host has not started). Any thread."""
        app = self._app
        if app is None or app.stop_requested or (
                not app.application_started.is_cancellation_requested):
            return False
        return self.report().ready

    # -- custom checks -----------------------------------------------------------------------

    def _run_checks(self) -> tuple[dict[str, HealthStatus], dict[str, str]]:
        if not self._checks:
            return {}, {}
        runs: dict[str, _Run] = {}
        fresh: list[tuple[str, HealthCheck, _Run]] = []
        with self._lock:
            for name, check in self._checks.items():
                run = self._runs.get(name)
                if run is None:
                    run = self._runs[name] = _Run()
                    fresh.append((name, check, run))
                runs[name] = run
        for name, check, run in fresh:  # started outside the lock: nothing runs under it
            try:
                threading.Thread(target=self._call, args=(name, check, run),
                                 name=f"threadhost:health:{name}", daemon=True).start()
            except RuntimeError as exc:  # "can't start new thread": the check did not run
                self._finish(name, run, HealthStatus.UNHEALTHY, describe_error(exc))
        end = SYSTEM_CLOCK.monotonic() + CHECK_LIMIT
        statuses: dict[str, HealthStatus] = {}
        errors: dict[str, str] = {}
        for name, run in runs.items():
            if run.done.token.wait(max(0.0, end - SYSTEM_CLOCK.monotonic())):
                statuses[name] = run.status
                if run.error is not None:
                    errors[name] = run.error
            else:
                statuses[name] = HealthStatus.UNHEALTHY
                errors[name] = (f"TimeoutError: the check did not answer within {CHECK_LIMIT}s "
                                "(real time)")
        self._note(statuses, errors)
        return statuses, errors

    def _call(self, name: str, check: HealthCheck, run: _Run) -> None:
        # On threadhost:health:<name>: the only place a check's code runs.
        try:
            status, error = _judge(check())
        except BaseException as exc:  # whatever it raises, the asker gets a status
            status, error = HealthStatus.UNHEALTHY, describe_error(exc)
        self._finish(name, run, status, error)

    def _finish(self, name: str, run: _Run, status: HealthStatus, error: str | None) -> None:
        run.status, run.error = status, error
        with self._lock:
            if self._runs.get(name) is run:
                del self._runs[name]
        run.done.cancel()

    def _note(self, statuses: Mapping[str, HealthStatus], errors: Mapping[str, str]) -> None:
        """Log each check once per change between failing (UNHEALTHY) and not."""
        changed: list[tuple[str, bool]] = []
        with self._lock:
            for name, status in statuses.items():
                failing = status is HealthStatus.UNHEALTHY
                if failing != (name in self._failing):
                    (self._failing.add if failing else self._failing.discard)(name)
                    changed.append((name, failing))
        for name, failing in changed:
            if failing:
                messages.health_check_failing(name, errors.get(name, "it returned UNHEALTHY"))
            else:
                messages.health_check_recovered(name)
