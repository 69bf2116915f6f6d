"""``Host``: starts hosted services in order, stops them in reverse under one deadline."""

from __future__ import annotations

import contextlib
import enum
import functools
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, final

import injector

from . import _log_messages as log
from . import _phases
from ._background_service import BackgroundService, ThreadExitHook
from ._cancellation import CancellationToken, CancellationTokenSource, wait_any
from ._clock import Clock
from ._console_lifetime import ConsoleLifetime
from ._errors import HostStartupError
from ._hosted_service import HostedLifecycleService, HostedService
from ._lifetime import HostApplicationLifetime, HostLifetime
from ._options import BackgroundServiceExceptionBehavior, HostOptions
from ._periodic import PeriodicBackgroundService
from ._phases import Call, Phase
from ._report import ServiceError, ShutdownReport, Straggler, UnfinishedWork, capture_stack
from ._task_queue import QueuedHostedService
from ._threads import start_thread, stop_signals_blocked

if TYPE_CHECKING:
    from ._builder import HostApplicationBuilder

HostedServiceFactory = Callable[[injector.Injector], HostedService]
"""How the host obtains one hosted service, given the injector (built by ServiceCollection)."""

_QUICK_STARTS = frozenset({BackgroundService.start, PeriodicBackgroundService.start,
                           QueuedHostedService.start})
"""Start methods known to return at once (they only start threads)."""

_STOP_PHASES = frozenset({"application_stopping", "stopping", "stop", "stopped", "lifetime"})


class _State(enum.Enum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True)
class _Entry:
    name: str
    service: HostedService


@dataclass(frozen=True)
class _StopRequest:
    reason: str
    timeout: float | None = None
    blocked_caller: int | None = None  # ident of a thread that waits in Host.stop()


class _StartFailedError(Exception):
    def __init__(self, name: str | None, phase: str, exc: BaseException) -> None:
        super().__init__(name, phase, exc)
        self.name, self.phase, self.exc = name, phase, exc


@final
class Host:
    """A running application: hosted services, their lifetime, and the injector behind them.

    Build one with ``Host.create_application_builder(args).build()``. ``start()`` and
    ``stop()`` may be called from any thread; ``run()`` is meant for the main thread, where
    the default ``ConsoleLifetime`` turns SIGINT/SIGTERM/SIGQUIT into a graceful stop.
    ``stop()`` is idempotent, safe from any thread (a signal handler and a service's own thread
    included), and every caller gets the same ``ShutdownReport``. Stop requested before or
    during start is not an error: ``start()`` returns early and ``run()`` goes straight to stop.

    Threads: ``threadhost:host`` waits for a stop request and carries out the stop; each
    BackgroundService has ``threadhost:<ClassName>``; stop hooks run on ``threadhost:stop``.
    All are daemon threads.
    """

    def __init__(self, services: injector.Injector, hosted: Sequence[HostedServiceFactory],
                 thread_exit_hooks: Sequence[ThreadExitHook] = ()) -> None:
        """Internal: use ``HostApplicationBuilder.build()``."""
        self._injector = services
        self._hosted = tuple(hosted)
        self._exit_hooks = tuple(thread_exit_hooks)
        self._clock = services.get(Clock)  # type: ignore[type-abstract]
        self._options = services.get(HostOptions)
        self._app = services.get(HostApplicationLifetime)
        self._lifetime: HostLifetime | None = None  # resolved in start()
        self._lock = threading.Lock()
        self._state = _State.CREATED  # guarded by _lock
        self._started: list[_Entry] = []  # guarded by _lock: services whose start returned
        self._stop_begun = False  # guarded by _lock
        self._starting_ident: int | None = None
        self._start_done = CancellationTokenSource(self._clock)
        self._startup_errors: list[ServiceError] = []  # written by the starting thread only
        self._crashes: list[ServiceError] = []  # appended by service threads (atomic)
        self._names: dict[int, str] = {}  # id(service) -> name; written before threads start
        self._requests: queue.SimpleQueue[_StopRequest] = queue.SimpleQueue()
        self._control: threading.Thread | None = None
        # Acquired (never released) by whoever first registers the control thread as a clock
        # participant; non-blocking, so safe in a signal handler.
        self._control_busy = threading.Lock()
        # The report is published once: _report is set, then every waiter's event. Callers
        # append their own fresh event first and re-check _report after, so no lock is taken
        # (Host.stop() must be callable from a signal handler).
        self._report: ShutdownReport | None = None
        self._waiters: list[threading.Event] = []

    @staticmethod
    def create_application_builder(args: Sequence[str] | None = None) -> HostApplicationBuilder:
        """A builder preset with the default sources (host settings, appsettings.json,
        environment variables, ``args`` as command line) and the ``ConsoleLifetime``."""
        from ._builder import HostApplicationBuilder  # noqa: PLC0415  (it imports Host)
        return HostApplicationBuilder(args)

    @property
    def services(self) -> injector.Injector:
        """The injector holding every registered service. Thread-safe, but every ``get``
        takes injector's process-wide lock: resolve once, not in a loop."""
        return self._injector

    @property
    def report(self) -> ShutdownReport | None:
        """The report of the stop, once the host has stopped; None before."""
        return self._report

    # -- start -----------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> None:
        """Start the host; return once every service has started.

        Runs on the calling thread. Order:

        1. ``HostLifetime.wait_for_start`` (``ConsoleLifetime`` installs its signal handlers);
        2. every ``starting`` (HostedLifecycleService), in registration order;
        3. every ``start``, in registration order;
        4. every ``started``, in registration order;
        5. ``application_started`` fires.

        With ``HostOptions.services_start_concurrently`` the calls of one phase run side by
        side; the phases stay in order. ``timeout`` (seconds on the host's clock) and
        ``HostOptions.startup_timeout``, whichever is shorter, cancel the start token.

        If a call raises, no later service is started, the services already started are
        stopped in reverse order, and ``HostStartupError`` is raised naming the service, with
        the exception as ``__cause__``; so does a startup timeout. If a stop is requested
        before or during start, the rest of startup is skipped and ``start()`` returns
        normally. Raises RuntimeError if the host was already started.
        """
        with self._lock:
            if self._state in (_State.STOPPING, _State.STOPPED):
                log.start_aborted("the host was stopped before it started")
                return
            if self._state is not _State.CREATED:
                raise RuntimeError("Cannot start the host, as it has already been started.")
            self._state = _State.STARTING
            self._starting_ident = threading.get_ident()
        log.starting()
        self._control = threading.Thread(target=self._control_loop, name="threadhost:host",
                                         daemon=True)
        start_thread(self._control)
        self._app.application_stopping.register(self._on_stop_requested)
        limits = [t for t in (timeout, self._options.startup_timeout) if t is not None]
        limit = min(limits) if limits else None
        start_cts = CancellationTokenSource.create_linked(self._app.application_stopping)
        if limit is not None:
            start_cts.cancel_after(limit)
        failure: _StartFailedError | None = None
        # This thread (like the host's own) is a clock participant while it works, so a
        # FakeClock under autojump never moves time in the middle of a start.
        # application_started callbacks are part of the start, so they run inside it too.
        me = threading.current_thread()
        self._clock.register_participant(me)
        try:
            try:
                self._start_all(start_cts.token, limit)
            except _StartFailedError as exc:
                failure = exc
            finally:
                start_cts.close()
                self._start_done.cancel()
            if failure is None:
                with self._lock:
                    running = self._state is _State.STARTING  # else a stop began meanwhile
                    if running:
                        self._state = _State.RUNNING
                if running:
                    self._app._notify_started()
                    log.started()
        finally:
            self._clock.unregister_participant(me)
        if failure is not None:
            self._fail_start(failure)

    def _start_all(self, token: CancellationToken, limit: float | None) -> None:
        def check(name: str | None) -> bool:
            """False if startup must end here; raises _StartFailedError on a timeout."""
            if self._app.application_stopping.is_cancellation_requested:
                log.start_aborted("a stop was requested")
                return False
            if token.is_cancellation_requested:
                assert limit is not None
                log.startup_timed_out(limit, name)
                raise _StartFailedError(name, "start", TimeoutError(
                    f"startup did not finish within {limit}s"))
            return True

        lifetime = self._injector.get(HostLifetime)  # type: ignore[type-abstract]
        self._lifetime = lifetime
        try:
            lifetime.wait_for_start(token)
        except Exception as exc:
            raise _StartFailedError(type(lifetime).__name__, "wait_for_start", exc) from exc
        if not check(None):
            return
        entries = self._resolve_services()
        lifecycle = [e for e in entries if isinstance(e.service, HostedLifecycleService)]
        concurrent = self._options.services_start_concurrently
        phases: list[tuple[str, list[_Entry]]] = [
            ("starting", lifecycle), ("start", entries), ("started", lifecycle)]
        by_name = {e.name: e for e in entries}
        with contextlib.ExitStack() as masked:
            is_masked = False
            for phase_name, phase_entries in phases:
                calls = [Call(e.name, phase_name, functools.partial(
                    getattr(e.service, phase_name), token)) for e in phase_entries]
                groups = [calls] if concurrent and calls else [[c] for c in calls]
                for group in groups:
                    if not check(group[0].name):
                        return
                    # Runs of starts that only start threads share one signal block (see
                    # _threads); any other call runs with the signals open.
                    quick = phase_name == "start" and all(
                        type(by_name[c.name].service).start in _QUICK_STARTS for c in group)
                    if quick and not is_masked:
                        masked.enter_context(stop_signals_blocked())
                    elif not quick and is_masked:
                        masked.close()
                    is_masked = quick
                    if len(group) == 1:
                        group[0].run(self._clock)
                    else:
                        Phase(group, concurrent=True).run(self._clock)
                    if phase_name == "start":
                        self._record_started(by_name, group)
                    for call in group:
                        if call.error is not None:
                            raise _StartFailedError(call.name, phase_name, call.error)
                masked.close()
                is_masked = False
        check(None)

    def _record_started(self, by_name: dict[str, _Entry], calls: Sequence[Call]) -> None:
        for call in calls:
            if call.error is not None:
                continue
            entry = by_name[call.name]
            with self._lock:
                late = self._stop_begun
                if not late:
                    self._started.append(entry)
            if late:
                log.late_start(entry.name)
                with CancellationTokenSource(self._clock) as cancelled:
                    cancelled.cancel()
                    entry.service.stop(cancelled.token)

    def _resolve_services(self) -> list[_Entry]:
        entries: list[_Entry] = []
        seen: dict[str, int] = {}
        for factory in self._hosted:
            try:
                service = factory(self._injector)
            except Exception as exc:
                name = getattr(factory, "service_name", repr(factory))
                raise _StartFailedError(name, "construction", exc) from exc
            base = type(service).__name__
            seen[base] = seen.get(base, 0) + 1
            name = base if seen[base] == 1 else f"{base}#{seen[base]}"
            self._names[id(service)] = name
            bind = getattr(service, "_bind_host", None)
            if bind is not None:  # BackgroundService, QueuedHostedService
                bind(self._on_crash, self._exit_hooks)
            entries.append(_Entry(name, service))
        return entries

    def _fail_start(self, failure: _StartFailedError) -> None:
        where = f"service {failure.name!r}" if failure.name else "startup"
        if not isinstance(failure.exc, TimeoutError):
            log.service_start_failed(failure.name or "?", failure.phase, failure.exc)
        self._startup_errors.append(
            ServiceError(failure.name or "startup", failure.exc, failure.phase))
        report = self._stop(_StopRequest(f"{where} failed to start: {failure.exc!r}"))
        raise HostStartupError(
            f"{where[0].upper()}{where[1:]} failed in {failure.phase}: {failure.exc}",
            service=failure.name, report=report) from failure.exc

    def _on_crash(self, service: HostedService, exc: BaseException) -> None:
        # Runs on the crashed service's own thread: record, request, return.
        name = self._names.get(id(service), type(service).__name__)
        behavior = self._options.background_service_exception_behavior
        if behavior is BackgroundServiceExceptionBehavior.IGNORE:
            log.crash_ignored(name)
            return
        self._crashes.append(ServiceError(name, exc, "execute"))
        log.crash_stops_host(name)
        self._app.request_stop(f"service {name!r} crashed: {exc!r}")

    # -- stop ------------------------------------------------------------------------------

    def stop(self, timeout: float | None = None) -> ShutdownReport:
        """Stop the host and return the report; wait until the stop is over.

        Callable from any thread, including a signal handler and a service's own thread;
        idempotent: every caller gets the same report, and ``timeout`` counts only for the
        call that begins the stop. The stop runs on ``threadhost:host``. Order:

        1. ``application_stopping`` fires;
        2. every ``stopping`` (HostedLifecycleService), in reverse registration order;
        3. every ``stop``, in reverse registration order;
        4. every ``stopped``, in reverse registration order;
        5. ``HostLifetime.stop``;
        6. ``application_stopped`` fires.

        One deadline, ``HostOptions.shutdown_timeout`` (or ``timeout`` if shorter) from the
        moment the stop begins, measured on the host's clock, covers all of it: the token
        every hook receives is cancelled when it passes. A BackgroundService thread still alive
        then, or a hook still running, is abandoned and logged at ERROR with its stack.
        Exceptions are collected, never stop the other services, and are in the report. Stop
        never waits longer than the deadline plus half a second of real time.

        Raises RuntimeError when called from a stop hook of this host (it would wait for
        itself; use ``stop_application()`` there) and ValueError for a negative timeout.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"Host.stop() needs timeout >= 0 seconds or None, got {timeout!r}")
        report = self._report
        if report is None:
            report = self._stop(_StopRequest("Host.stop() called", timeout,
                                             threading.get_ident()))
        self._restore_signal_handlers()
        return report

    def _stop(self, request: _StopRequest) -> ShutdownReport:
        call = _phases.current_call()
        if threading.current_thread() is self._control or (
                call is not None and call.phase in _STOP_PHASES):
            where = f"{call.name}.{call.phase}" if call else "an application_stopped callback"
            raise RuntimeError(
                f"Host.stop() was called from {where}, inside the host's own stop, and would "
                "wait for itself; call HostApplicationLifetime.stop_application() there.")
        me = threading.current_thread()
        for entry in self._started_snapshot():
            detach = getattr(entry.service, "_detach_thread", None)
            if detach is not None:
                detach(me)  # if it is the service's own thread, do not wait for it
        waiter = threading.Event()
        self._waiters.append(waiter)
        if self._report is None:
            if not self._stop_unstarted(request.reason):
                self._hand_over(request)
            waiter.wait()
        report = self._report
        assert report is not None
        return report

    def _started_snapshot(self) -> list[_Entry]:
        # list() of a list is atomic under the GIL; no lock, so this is signal-handler safe.
        return list(self._started)

    def _stop_unstarted(self, reason: str) -> bool:
        """Stop a host that was never started, inline. False if it has been started."""
        if self._control is not None:
            return False
        with self._lock:
            if self._state is not _State.CREATED:
                return False
            self._state = _State.STOPPED
            self._stop_begun = True
        self._app.request_stop(reason)
        log.stopping(self._app.stop_reason or reason)
        self._app._notify_stopped()
        self._publish(ShutdownReport(reason=self._app.stop_reason or reason))
        return True

    def _on_stop_requested(self) -> None:
        self._hand_over(_StopRequest(self._app.stop_reason or "stop requested"))

    def _hand_over(self, request: _StopRequest) -> None:
        """Give a stop request to the control thread (signal-safe: no blocking lock)."""
        control = self._control
        if control is not None and self._control_busy.acquire(blocking=False):
            self._clock.register_participant(control)  # busy from now until it publishes
        self._requests.put(request)

    def _control_loop(self) -> None:
        request = self._requests.get()
        try:
            self._publish(self._perform_stop(request))
        finally:
            if self._control_busy.locked():
                self._clock.unregister_participant(threading.current_thread())

    def _publish(self, report: ShutdownReport) -> None:
        self._report = report
        for waiter in list(self._waiters):
            waiter.set()

    def _perform_stop(self, request: _StopRequest) -> ShutdownReport:
        clock = self._clock
        began = clock.monotonic()
        limit = self._options.shutdown_timeout
        if request.timeout is not None:
            limit = min(limit, request.timeout)
        deadline = CancellationTokenSource(clock)
        deadline.cancel_after(limit)
        token = deadline.token
        self._app.record_stop_reason(request.reason)
        reason = self._app.stop_reason or request.reason
        log.stopping(reason)
        if request.blocked_caller is None or request.blocked_caller != self._starting_ident:
            wait_any([self._start_done.token, token])  # let start() reach its next check
        with self._lock:
            self._state = _State.STOPPING
            self._stop_begun = True
            entries = list(reversed(self._started))
        lifecycle = [e for e in entries if isinstance(e.service, HostedLifecycleService)]
        concurrent = self._options.services_stop_concurrently
        lifetime = self._lifetime

        def calls(phase: str, of: Sequence[_Entry]) -> list[Call]:
            return [Call(e.name, phase, functools.partial(getattr(e.service, phase), token))
                    for e in of]

        phases = [
            Phase([Call("application", "application_stopping",
                        functools.partial(self._app.request_stop, reason))]),
            Phase(calls("stopping", lifecycle), concurrent),
            Phase(calls("stop", entries), concurrent),
            Phase(calls("stopped", lifecycle), concurrent),
        ]
        if lifetime is not None:
            phases.append(Phase([Call(type(lifetime).__name__, "lifetime",
                                      functools.partial(lifetime.stop, token))]))
        _phases.run_with_deadline(phases, token, clock)
        report = self._account(reason, phases, entries, limit, began)
        deadline.close()
        with self._lock:
            self._state = _State.STOPPED
        self._app._notify_stopped()
        log.stopped(report.elapsed, report.clean)
        return report

    def _account(self, reason: str, phases: Sequence[Phase], entries: Sequence[_Entry],
                 limit: float, began: float) -> ShutdownReport:
        stragglers: list[Straggler] = []
        errors: list[ServiceError] = [*self._startup_errors, *self._crashes]
        timings: dict[str, float] = {e.name: 0.0 for e in entries}
        failed: set[str] = set()
        now = self._clock.monotonic()
        for phase in phases:
            for call in phase.calls:
                if call.done:
                    if call.name in timings:
                        timings[call.name] += call.elapsed
                    if call.error is not None:
                        log.service_stop_failed(call.name, call.phase, call.error)
                        errors.append(ServiceError(call.name, call.error, call.phase))
                        failed.add(call.name)
                elif call.begun:
                    thread = call.thread
                    stack = capture_stack(thread)
                    thread_name = thread.name if thread else "?"
                    log.straggler(call.name, call.phase, thread_name, limit, stack)
                    stragglers.append(Straggler(call.name, stack, thread_name, call.phase))
                    timings[call.name] = now - began
                    failed.add(call.name)
                else:
                    log.hook_not_called(call.name, call.phase)
                    errors.append(ServiceError(call.name, TimeoutError(
                        f"{call.phase} was not called: the shutdown deadline had passed"),
                        call.phase))
                    failed.add(call.name)
        me = threading.current_thread()
        unfinished: list[UnfinishedWork] = []
        for entry in entries:
            service = entry.service
            live = getattr(service, "_live_threads", None)
            for thread in live() if live is not None else ():
                if thread is me:
                    continue
                stack = capture_stack(thread)
                log.straggler(entry.name, "execute", thread.name, limit, stack)
                stragglers.append(Straggler(entry.name, stack, thread.name, "execute"))
                timings[entry.name] = now - began
                failed.add(entry.name)
            left = getattr(service, "_unfinished_work", None)
            if callable(left):
                unfinished.extend(UnfinishedWork(entry.name, item) for item in left())
        return ShutdownReport(
            reason=reason,
            stopped=tuple(e.name for e in entries if e.name not in failed),
            stragglers=tuple(stragglers),
            errors=tuple(errors),
            unfinished_work=tuple(unfinished),
            timings=timings,
            elapsed=self._clock.monotonic() - began,
        )

    # -- run, wait, close ------------------------------------------------------------------

    def wait_for_shutdown(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested, then complete the stop; True once stopped.

        False if no stop was requested within ``timeout`` seconds (host's clock). Any thread.
        """
        if not self._app.application_stopping.wait(timeout):
            return False
        self.stop()
        return True

    def run(self) -> int:
        """Start, wait for a stop request, stop; return the exit code.

        Meant for the main thread (so ``ConsoleLifetime`` can handle signals). Returns 0 for a
        clean stop, 1 if a service failed (start error, crash under STOP_HOST, stop error),
        3 if services were abandoned at the deadline and nothing else failed. A second SIGINT
        or SIGTERM during the stop ends the process with 130 instead.
        """
        try:
            try:
                self.start()
            except HostStartupError as exc:
                return exc.report.exit_code if exc.report is not None else 1
            self.wait_for_shutdown()
            return self.stop().exit_code
        finally:
            self.close()

    def close(self) -> None:
        """Stop the host if it is running, restore signal handlers, release its threads.

        Idempotent; any thread (handlers are restored only on the main thread).
        """
        with self._lock:
            running = self._state not in (_State.CREATED, _State.STOPPED)
        if running:
            self.stop()
        self._restore_signal_handlers()
        control = self._control
        if control is not None and control is not threading.current_thread():
            control.join()

    def _restore_signal_handlers(self) -> None:
        if isinstance(self._lifetime, ConsoleLifetime) and self._report is not None:
            self._lifetime.restore_signal_handlers()

    def __enter__(self) -> Host:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Host {self._state.value}, {len(self._hosted)} hosted service(s)>"

    def create_scope(self) -> contextlib.AbstractContextManager[injector.Injector]:
        """A context manager yielding a child injector in which services registered with
        ``add_scoped`` are made once and shared (one unit of work); see ``_scopes``. Any
        thread; scoped context managers are exited when the block ends."""
        from ._scopes import create_scope  # noqa: PLC0415  (self-contained addition)
        return create_scope(self._injector)
