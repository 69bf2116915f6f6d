"""The log events of the host and its lower layers, one named function each (as .NET's
HostingLoggerExtensions). The events of the ready-made services, leases, schedules, the probe
endpoint and the FakeClock live beside their code, in the ``messages`` module of
``_services``, ``_leases``, ``_schedules``, ``_ops`` and ``testing``, and those of the Django
tasks worker in ``contrib.django_tasks._messages`` (logger ``threadhost.tasks``), as .NET keeps
one LoggerExtensions class per area; the logger names are listed here.

Templates use lazy ``%s`` arguments. Loggers:

* ``threadhost.hosting`` — the host: start, stop, crashes, stragglers;
* ``threadhost.hosting.lifetime`` — ``ConsoleLifetime``'s status messages and signals;
* ``threadhost.hosting.health`` — health checks, the probe endpoint, the drain;
* ``threadhost.services`` — ready-made services (periodic, queued, schedules);
* ``threadhost.testing`` — ``FakeClock``;
* ``threadhost.lease`` — leased singleton services: acquired, lost, unreachable.
* ``threadhost.clock`` — the system clock's timer thread.
* ``threadhost.configuration`` — reloads of watched configuration files.
* ``threading`` — an exception that ended a plain thread, while threadhost's console is on.
* ``py.unraisable`` — an exception Python could not raise (``__del__``...), ditto.
* ``py.warnings`` — (``logging.captureWarnings``, not ours) warnings, while the console is on.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from typing import TYPE_CHECKING

from threadhost._errors import ConfigurationError
from threadhost._guarded_log import GuardedLogger

if TYPE_CHECKING:

    from threadhost._hosting.report import ShutdownReport


host_log = GuardedLogger("threadhost.hosting")
lifetime_log = GuardedLogger("threadhost.hosting.lifetime")
clock_log = GuardedLogger("threadhost.clock")
health_log = GuardedLogger("threadhost.hosting.health")
thread_log = GuardedLogger("threading")  # plain threads' exceptions (_logging.stray_output)
unraisable_log = GuardedLogger("py.unraisable")  # exceptions Python can only report (ditto)
configuration_log = GuardedLogger("threadhost.configuration")


def starting() -> None:
    host_log.debug("Hosting starting")


def started() -> None:
    host_log.debug("Hosting started")


def start_aborted(reason: str) -> None:
    host_log.info("Startup aborted: %s", reason)


def service_start_failed(name: str, phase: str, exc: BaseException) -> None:
    if phase == "construction":
        _construction_failed(name, exc)
        return
    if isinstance(exc, ConfigurationError):  # a setting to fix, not a bug to read: one line
        host_log.error("Service %r failed in %s: %s; stopping the services already started.",
                       name, phase, exc)
        host_log.debug("Service %r failed in %s:", name, phase, exc_info=exc)
        return
    host_log.error("Service %r failed in %s: %s; stopping the services already started.",
                   name, phase, _cause(exc), exc_info=exc)


def _cause(exc: BaseException) -> str:
    """``OSError: [Errno 98] Address already in use``: the cause, in the line itself."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _construction_failed(name: str, exc: BaseException) -> None:
    """One ERROR naming the service, the chain of dependencies and the error, with the
    traceback of the application's own code only (not the injector's nor threadhost's)."""
    notes = [str(n) for n in getattr(exc, "__notes__", ())]
    chain = next((n for n in notes if n.startswith("while constructing ")), None)
    where = f" ({chain})" if chain else ""
    context = exc.__context__
    if isinstance(context, KeyError) and _is_library(_last_file(context.__traceback__)):
        exc.__suppress_context__ = True  # the injector's cache misses, not the application's
    tb = exc.__traceback__
    while tb is not None and _is_library(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    if tb is not None:
        exc.__traceback__ = tb
    if isinstance(exc, ConfigurationError):
        host_log.error("Service %r could not be constructed%s: %s", name, where, exc)
        host_log.debug("Service %r could not be constructed:", name, exc_info=exc)
        return
    # One line, as every entry point's "cannot be constructed"; the traceback at DEBUG.
    host_log.error("Service %r could not be constructed%s: %s: %s", name, where,
                   type(exc).__name__, exc)
    host_log.debug("Service %r could not be constructed:", name,
                   exc_info=exc if tb is not None else None)


def build_failure_traceback(exc: BaseException) -> None:
    """The traceback of a failed ``build()`` whose entry point prints one line: DEBUG only."""
    host_log.debug("build() failed: %s: %s", type(exc).__name__, exc, exc_info=exc)


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_library(filename: str) -> bool:
    """Whether a frame's file is threadhost's own or the injector's."""
    return filename.startswith(_PACKAGE) or f"{os.sep}injector{os.sep}" in filename


def _last_file(tb: types.TracebackType | None) -> str:
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename if tb is not None else ""


_LOGGED = "_threadhost_logged"
"""Attribute set on an exception ``build()`` already logged (``build_failed_logged``)."""


def build_failed(application: str, exc: BaseException) -> None:
    """A configuration error at ``build()``: one line on stderr (logging is not set up),
    unless ``build()`` already wrote it as a log record (``build_failure_logged``)."""
    if build_failure_logged(exc):
        return
    with contextlib.suppress(BaseException):
        sys.stderr.write(f"{application}: error: {exc}\n")


def build_failed_logged(application: str, exc: BaseException) -> None:
    """A failed ``build()`` as one ERROR record, through threadhost's console handler in a
    structured format (``json``, ``systemd``); ``exc`` is marked so ``build_failed`` and the
    entry points print no second, plain line."""
    host_log.error("The host was not built: %s", exc,
                   extra={"application": application, "error": type(exc).__name__})
    with contextlib.suppress(AttributeError):
        setattr(exc, _LOGGED, True)


def build_failure_logged(exc: BaseException) -> bool:
    """True if ``build()`` already wrote ``exc`` as a log record: print no plain line."""
    return bool(getattr(exc, _LOGGED, False))


def plain_thread_failed(name: str, exc_info: tuple[type[BaseException], BaseException,
                                                    types.TracebackType | None]) -> None:
    """An exception ended a thread the application started (``threading.excepthook``)."""
    thread_log.error("Exception in thread %s: %s: %s", name, exc_info[0].__name__, exc_info[1],
                     exc_info=exc_info, extra={"failed_thread": name})


def unraisable(what: str, exc_info: tuple[type[BaseException], BaseException,
                                         types.TracebackType | None]) -> None:
    """An exception Python could not raise (``sys.unraisablehook``: a ``__del__``, a weakref
    callback, a generator's close) and would print as ``Exception ignored in: ...``."""
    unraisable_log.error("%s: %s: %s", what, exc_info[0].__name__, exc_info[1],
                         exc_info=exc_info)


def formatter_ignored(key: str, value: str, origin: str | None,
                      handlers: list[str]) -> None:
    """``Logging:Console:FormatterName`` was given but the application owns logging."""
    where = f" (set in {origin})" if origin else ""
    host_log.warning(
        "%s=%r%s is ignored: the root logger already has a handler (%s), so threadhost adds "
        "no console handler and your handlers keep their own format. Set the format on "
        "them, or remove them to let threadhost's console write the log.",
        key, value, where, ", ".join(handlers))


def formatter_ignored_for_threadhost(key: str, value: str, origin: str | None, logger: str,
                                     handlers: list[str]) -> None:
    """``Logging:Console:FormatterName`` was given but the application put handlers on a
    logger above threadhost's own (``LOGGING = {"loggers": {"threadhost": ...}}``)."""
    where = f" (set in {origin})" if origin else ""
    host_log.warning(
        "%s=%r%s is ignored for threadhost's own lines: the logger %r has a handler (%s), "
        "which writes them in its own format. Set the format on it, or remove it to let "
        "threadhost's console write them.", key, value, where, logger, ", ".join(handlers))


def startup_timed_out(timeout: float, name: str | None) -> None:
    host_log.error("Startup did not finish within startup_timeout=%ss (at service %r).",
                   timeout, name)


def stopping(reason: str) -> None:
    host_log.info("Hosting stopping: %s", reason)


def stopped(report: ShutdownReport) -> None:
    """The closing line of every stop, with the report's summary as structured fields."""
    parts = []
    if report.stragglers:
        count = len(report.stragglers)
        parts.append(f"{count} straggler{'s' if count > 1 else ''}")
    if report.errors:
        count = len(report.errors)
        parts.append(f"{count} error{'s' if count > 1 else ''}")
    if report.unfinished_work:
        parts.append(f"{len(report.unfinished_work)} unfinished work item(s)")
    summary = ", ".join(parts) if parts else "clean"
    host_log.info(
        "Application stopped: %s in %.2f s, exit code %s", summary, report.elapsed,
        report.exit_code,
        extra={"exit_code": report.exit_code, "clean": report.clean,
               "elapsed_seconds": round(report.elapsed, 3), "stop_reason": report.reason,
               "stragglers": [s.name for s in report.stragglers],
               "errors": [e.name for e in report.errors],
               "unfinished_work": len(report.unfinished_work)})


def service_stop_failed(name: str, phase: str, exc: BaseException) -> None:
    host_log.error("Service %r raised in %s.", name, phase, exc_info=exc)


def straggler(name: str, phase: str, thread_name: str, timeout: float, stack: str) -> None:
    host_log.error(
        "Service %r did not finish %s within the shutdown timeout of %ss; abandoning thread "
        "%r, stuck in:\n%s", name, phase, timeout, thread_name, stack)


def hook_not_called(name: str, phase: str) -> None:
    host_log.error("Service %r: %s was not called because the shutdown deadline had passed.",
                   name, phase)


def service_crashed(name: str, exc: BaseException) -> None:
    host_log.error("BackgroundService %r failed: execute() raised.", name, exc_info=exc)


def service_restarting(name: str, exc: BaseException | None, restart: int,
                       delay: float) -> None:
    if exc is None:
        host_log.warning("BackgroundService %r returned while the host runs (RestartMode.ALWAYS);"
                         " restart %d in a row in %.3gs.", name, restart, delay)
    else:
        host_log.error("BackgroundService %r failed: execute() raised; restart %d in a row in "
                       "%.3gs.", name, restart, delay, exc_info=exc)


def restart_limit_reached(name: str, max_restarts: int, within: float,
                          exc: BaseException | None) -> None:
    host_log.error("BackgroundService %r failed for good: it would be restarted more than %d "
                   "time(s) within %ss (RestartPolicy.max_restarts/within).", name, max_restarts,
                   within, exc_info=exc)


def crash_stops_host(name: str) -> None:
    host_log.critical(
        "The host is stopping because BackgroundService %r failed "
        "(HostOptions.background_service_exception_behavior=STOP_HOST).", name)


def crash_ignored(name: str) -> None:
    host_log.warning(
        "BackgroundService %r failed; the host keeps running "
        "(HostOptions.background_service_exception_behavior=IGNORE).", name)


def late_start(name: str) -> None:
    host_log.warning("Service %r finished starting after the stop began; stopping it now.", name)


def callback_failed(what: str, exc: BaseException) -> None:
    host_log.error("A callback registered on %s raised.", what, exc_info=exc)


def thread_exit_hook_failed(name: str, exc: BaseException) -> None:
    host_log.error("A thread-exit hook of service %r raised.", name, exc_info=exc)


def application_started(environment: str, content_root: str) -> None:
    lifetime_log.info("Application started. Press Ctrl+C to shut down.")
    lifetime_log.info("Hosting environment: %s", environment)
    lifetime_log.info("Content root path: %s", content_root)


def application_stopping() -> None:
    lifetime_log.info("Application is shutting down...")


def signal_received(signame: str) -> None:
    lifetime_log.debug("Received %s; requesting a graceful stop.", signame)


def signal_repeated(signame: str, window: float) -> None:
    lifetime_log.debug("Received %s again within %ss of the first stop signal: the same "
                       "request (supervisors signal the process and then its group).",
                       signame, window)


def forced_exit(signame: str, stacks: list[tuple[str, str]]) -> None:
    lifetime_log.critical("Received %s again during shutdown: exiting at once with code 130.",
                          signame)
    for thread_name, stack in stacks:
        lifetime_log.error("Abandoning thread %r, stuck in:\n%s", thread_name, stack)


def timer_callback_failed(exc: BaseException) -> None:
    clock_log.error("A timer callback raised; the timer thread goes on.", exc_info=exc)


def draining(delay: float) -> None:
    health_log.info("Draining: not ready; the services keep running for shutdown_delay=%ss "
                    "(host clock) before they are stopped.", delay)


def watchdog_withheld() -> None:
    health_log.warning("The host is UNHEALTHY: WATCHDOG=1 is no longer sent to systemd, which "
                       "restarts the unit when WatchdogSec= passes.")


def watchdog_resumed() -> None:
    health_log.info("The host is no longer UNHEALTHY: WATCHDOG=1 is sent to systemd again.")
def configuration_reloaded(path: str) -> None:
    configuration_log.info("Configuration file %s changed and was reloaded.", path)


def configuration_reload_failed(problem: str) -> None:
    configuration_log.error(
        "A watched configuration file changed but cannot be used; the last good "
        "configuration stays: %s", problem)


def options_callback_failed(options_type: str, exc: BaseException) -> None:
    configuration_log.error("An OptionsMonitor[%s].on_change callback raised.", options_type,
                            exc_info=exc)


def lingering_thread(thread_name: str, code: int, stack: str) -> None:
    host_log.error(
        "Thread %r is still running after the stop (not a daemon thread, it would keep the "
        "process alive); exiting with code %s. It is stuck in:\n%s", thread_name, code, stack)


def unknown_option_key(key: str, origin: str, options_name: str, close: str | None) -> None:
    hint = f"; did you mean {close}?" if close else ""
    configuration_log.warning(
        "Configuration key %r (from %s) matches no field of %s and is ignored%s",
        key, origin, options_name, hint,
        extra={"config_key": key, "config_source": origin, "options_type": options_name})


def unread_command_line_key(key: str, value: str, close: str | None) -> None:
    hint = f"; did you mean --{close}={value}?" if close else " (a typo?)"
    configuration_log.warning(
        "command line: --%s=%s set the key %r, which nothing read by the end of start%s",
        key, value, key, hint)


def configure_overrides(options_name: str, field: str, value: object, *, key: str,
                        given: object, origin: str) -> None:
    configuration_log.warning(
        "services.configure(%s, %s=%r) overrides %s=%r from %s: code wins over configuration. "
        "To give a default that the command line and environment still override, use "
        "builder.configuration.add_defaults({%r: %r}) instead.",
        options_name, field, value, key, given, origin, key, value,
        extra={"config_key": key, "config_source": origin, "options_type": options_name})
