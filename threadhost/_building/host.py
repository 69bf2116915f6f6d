"""``Host``: the public face of a running application. The machinery is in ``_control``."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, final

import injector

from threadhost import _interrupt as interrupts
from threadhost._building.failure import failure_of
from threadhost._building.scopes import create_scope
from threadhost._errors import HostStartupError
from threadhost._hosting.core import HostCore
from threadhost._hosting.hosted_service import HostedService
from threadhost._hosting.registry import ThreadExitHook
from threadhost._hosting.report import ShutdownReport
from threadhost._ops.health import HealthMonitor, HealthReport
from threadhost._process.console_lifetime import ConsoleLifetime
from threadhost._process.exit import exit_if_lingering

if TYPE_CHECKING:
    from threadhost._building.builder import HostApplicationBuilder



@final
class Host:
    """A running application: hosted services, their lifetime, and the injector behind them.

    Build one with ``Host.create_application_builder(args).build()``. ``start()`` and
    ``stop()`` may be called from any thread; ``run()`` is meant for the main thread, where
    the default ``ConsoleLifetime`` turns SIGINT/SIGTERM/SIGQUIT into a graceful stop.
    ``stop()`` is idempotent and safe from any thread (a service's own included), and every
    caller gets the same ``ShutdownReport``. A stop requested before or during start is not an
    error: ``start()`` returns early and ``run()`` goes straight to stop. A host runs once:
    after its stop it cannot be started again.

    Threads: ``threadhost:host`` (from ``start()`` until the stop is over) takes lock-free stop
    requests (``stop_application()``, signals, crashes) and carries out the stop they ask for;
    each BackgroundService has ``threadhost:<ClassName>``; stop hooks that run user code run
    on ``threadhost:stop``. All are daemon threads.
    """

    def __init__(self, services: injector.Injector,
                 hosted: Sequence[Callable[[injector.Injector], HostedService]],
                 thread_exit_hooks: Sequence[ThreadExitHook] = ()) -> None:
        """Internal: use ``HostApplicationBuilder.build()``."""
        self._core = HostCore(services, hosted, thread_exit_hooks)
        self._health = services.get(HealthMonitor)
        self._health.attach(self._core.registry, self._core.app, self._core.clock)

    @staticmethod
    def create_application_builder(args: Sequence[str] | None = None) -> HostApplicationBuilder:
        """A builder preset with the default sources (host settings, appsettings.json,
        environment variables, ``args`` as command line) and the ``ConsoleLifetime``."""
        from threadhost._building.builder import HostApplicationBuilder  # noqa: PLC0415  (it imports Host)
        return HostApplicationBuilder(args)

    @property
    def services(self) -> injector.Injector:
        """The injector holding every registered service. Thread-safe, but every ``get``
        takes injector's process-wide lock: resolve once, not in a loop."""
        return self._core.injector

    @property
    def report(self) -> ShutdownReport | None:
        """The report of the stop, once the host has stopped; None before. Any thread."""
        return self._core.report

    def health(self) -> HealthReport:
        """The host's health and readiness now; see ``HealthReport``.

        Any thread, any time (before ``start()``: no services, not ready). Never waits for a
        service; waits at most 1 s of real time for the custom checks, which run on threads
        of their own. Never raises: a check that raises or hangs is UNHEALTHY in the report.
        """
        return self._health.report()

    @property
    def health_endpoint_address(self) -> tuple[str, int] | None:
        """The ``(host, port)`` the health endpoint listens on, once it does (port 0 asked
        for a free port: this is the one it got); None without an endpoint or before
        ``start()``. Any thread."""
        return self._health.endpoint_address

    def start(self, timeout: float | None = None) -> None:
        """Start the host; return once every service has started.

        Runs on the calling thread. Order (``_plan.START_PLAN``):

        1. ``HostLifetime.wait_for_start`` (``ConsoleLifetime`` installs its signal handling);
        2. every hosted service is resolved (constructed by the injector), in registration
           order; one that cannot be constructed fails the start before any service starts;
        3. every ``starting`` (HostedLifecycleService), in registration order;
        4. every ``start``, in registration order;
        5. every ``started``, in registration order;
        6. ``application_started`` fires (its callbacks run on this thread).

        With ``HostOptions.services_start_concurrently`` the calls of one phase run side by
        side; the phases stay in order. ``timeout`` (seconds on the host's clock) and
        ``HostOptions.startup_timeout``, whichever is shorter, cancel the start token.

        If a call raises, no later call is made, the services already started are stopped in
        reverse order, and ``HostStartupError`` is raised naming the service (every service
        that failed, in a concurrent phase), with the exception as ``__cause__`` (an
        ExceptionGroup for several) and the stop's report as ``report``; so does a startup
        timeout. If a stop is requested before or during start, the rest of startup is skipped
        (``application_started`` does not fire) and ``start()`` returns normally. Raises
        RuntimeError if the host was already started, or closed.
        """
        core = self._core
        with core.inside():
            core.start(timeout)
        _raise_deferred()

    def stop(self, timeout: float | None = None) -> ShutdownReport:
        """Stop the host and return the report; block until the stop is over.

        Any thread, a service's own included (the stop then does not wait for that thread).
        Idempotent: every caller gets the same report, and ``timeout`` counts only for the
        call that begins the stop, which carries it out on its own thread (a stop requested
        with ``stop_application()`` or a signal runs on ``threadhost:host``). Order
        (``_plan.STOP_PLAN``, after the drain):

        0. the drain: readiness is already False (from the request on); threadhost's own
           stopping notices go out at once (systemd ``STOPPING=1``, "Application is shutting
           down..."); then ``HostOptions.shutdown_delay`` passes on the host's clock while
           the services keep running (skipped for a stop that came during start);
        1. ``application_stopping`` fires; all its callbacks finish before step 2;
        2. every ``stopping`` (HostedLifecycleService), in reverse registration order;
        3. every ``stop``, in reverse registration order;
        4. every ``stopped``, in reverse registration order;
        5. ``HostLifetime.stop``;
        6. ``application_stopped`` fires.

        One deadline, ``HostOptions.shutdown_timeout`` (or ``timeout`` if shorter) from the
        moment the stop begins, measured on the host's clock, covers all of it, the drain
        included (a ``timeout`` shorter than the delay cuts the drain): the token every
        hook receives is cancelled when it passes (``math.inf``: no deadline). What still runs
        user code then (a BackgroundService thread, a hook, a lifetime callback) gets a grace of
        0.5 s of real time, and is then abandoned and logged at ERROR with its stack. Every
        exception, of any kind, is collected and reported; none stops the others.

        Raises RuntimeError when the call would wait for itself: from a stop hook or lifetime
        callback of this host, or on a thread inside this host's start/stop/close (a signal
        handler: use ``HostApplicationLifetime.stop_application()`` there); ValueError for a
        negative timeout.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"Host.stop() needs timeout >= 0 seconds or None, got {timeout!r}")
        core = self._core
        core.refuse_reentrant_stop()
        with core.inside():
            report = core.request_stop("Host.stop() called", timeout)
            self._restore_signal_handlers()
        return report

    def wait_for_shutdown(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested, then until it is over; True once stopped.

        False if no stop began within ``timeout`` seconds (host's clock). Any thread.
        """
        core = self._core
        if not core.wait_stop_begun(timeout):
            return False
        core.wait_report()
        return True

    def run(self) -> int:
        """Start, wait for a stop request, stop; return the exit code. Runs once.

        Meant for the main thread (so ``ConsoleLifetime`` can handle signals). Returns 0 for a
        clean stop, 1 if a service failed (start error, crash under STOP_HOST, stop error),
        2 if a service's start failed on a ``ConfigurationError`` (logged in one line, its
        traceback at DEBUG), 3 if services were abandoned at the deadline and nothing else
        failed. A second SIGINT
        or SIGTERM during the stop ends the process with 130 instead. Raises RuntimeError if
        the host was already started (a second ``run()``).

        On the main thread with ``HostOptions.exit_on_stop`` (the default): once the stop is
        over, a non-daemon thread still alive (it would keep the process from ending) is
        logged at ERROR with its stack, and the process exits at once with the exit code,
        logging flushed; with none, ``run()`` simply returns.
        """
        try:
            try:
                self.start()
            except HostStartupError as exc:
                failure = failure_of(exc)  # the start logged its one ERROR line
                code = failure[1] if failure is not None else 1
            else:
                self.wait_for_shutdown()
                code = self.stop().exit_code
        finally:
            self.close()
        if self._core.options.exit_on_stop and (
                threading.current_thread() is threading.main_thread()):
            exit_if_lingering(code)
        return code

    def close(self) -> None:
        """Stop the host if it is running, restore signal handlers, release its threads.

        Idempotent; any thread (handlers are restored only on the main thread). A closed
        host cannot be started.
        """
        core = self._core
        if not core.close_unstarted():
            core.refuse_reentrant_stop()
            with core.inside():
                core.request_stop("Host.close() called", None)
        with core.inside():
            core.join_control()
            self._restore_signal_handlers()
            core.closed()
        _raise_deferred()

    def _restore_signal_handlers(self) -> None:
        lifetime = self._core.lifetime
        if isinstance(lifetime, ConsoleLifetime) and self._core.report is not None and (
                threading.current_thread() is threading.main_thread()):
            lifetime.restore_signal_handlers()

    def __enter__(self) -> Host:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Host {self._core.state.value}, {len(self._core.factories)} hosted service(s)>"

    def create_scope(self) -> contextlib.AbstractContextManager[injector.Injector]:
        """A context manager yielding a child injector in which services registered with
        ``add_scoped`` are made once and shared (one unit of work); see ``_scopes``. Any
        thread; scoped context managers are exited when the block ends."""
        return create_scope(self._core.injector)


def _raise_deferred() -> None:
    """A Ctrl+C that landed in threadhost's code on the main thread (a log call, a stop call)
    and was kept so the host's work could finish: raised now, on the caller's thread."""
    interrupt = interrupts.take()
    if interrupt is not None:
        raise interrupt
