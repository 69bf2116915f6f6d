"""Every log event threadhost emits, one named function each (as .NET's HostingLoggerExtensions).

Templates use lazy ``%s`` arguments. Loggers:

* ``threadhost.hosting`` — the host: start, stop, crashes, stragglers;
* ``threadhost.hosting.lifetime`` — ``ConsoleLifetime``'s status messages and signals;
* ``threadhost.services`` — ready-made services (periodic, queued);
* ``threadhost.testing`` — ``FakeClock``;
* ``threadhost.configuration`` — reloads of watched configuration files.
"""

from __future__ import annotations

import logging

host_log = logging.getLogger("threadhost.hosting")
lifetime_log = logging.getLogger("threadhost.hosting.lifetime")
services_log = logging.getLogger("threadhost.services")
testing_log = logging.getLogger("threadhost.testing")
configuration_log = logging.getLogger("threadhost.configuration")


def starting() -> None:
    host_log.debug("Hosting starting")


def started() -> None:
    host_log.debug("Hosting started")


def start_aborted(reason: str) -> None:
    host_log.info("Startup aborted: %s", reason)


def service_start_failed(name: str, phase: str, exc: BaseException) -> None:
    host_log.error("Service %r failed in %s; stopping the services already started.",
                   name, phase, exc_info=exc)


def startup_timed_out(timeout: float, name: str | None) -> None:
    host_log.error("Startup did not finish within startup_timeout=%ss (at service %r).",
                   timeout, name)


def stopping(reason: str) -> None:
    host_log.info("Hosting stopping: %s", reason)


def stopped(elapsed: float, clean: bool) -> None:
    host_log.debug("Hosting stopped in %.3fs (%s)", elapsed, "clean" if clean else "not clean")


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


def forced_exit(signame: str, stacks: list[tuple[str, str]]) -> None:
    lifetime_log.critical("Received %s again during shutdown: exiting at once with code 130.",
                          signame)
    for thread_name, stack in stacks:
        lifetime_log.error("Abandoning thread %r, stuck in:\n%s", thread_name, stack)


def periodic_overrun(name: str, skipped: int, interval: float) -> None:
    services_log.warning(
        "PeriodicBackgroundService %r overran its interval of %ss; skipping %d missed tick(s).",
        name, interval, skipped)


def periodic_run_failed(name: str, exc: BaseException) -> None:
    services_log.error("PeriodicBackgroundService %r: run_once() raised; the next tick still "
                       "runs.", name, exc_info=exc)


def work_item_failed(name: str, item: object, exc: BaseException) -> None:
    services_log.error("%s: work item %r raised; the worker goes on.", name, item, exc_info=exc)


def unfinished_work(name: str, items: list[object]) -> None:
    services_log.warning(
        "%s: %d queued work item(s) were not started before the shutdown deadline: %s",
        name, len(items), ", ".join(repr(i) for i in items))


def clock_stalled(thread_name: str, stall_timeout: float, stack: str) -> None:
    testing_log.warning(
        "FakeClock: thread %r stayed outside a clock wait for %ss of real time; it no longer "
        "holds the clock back. It is in:\n%s", thread_name, stall_timeout, stack)


def configuration_reloaded(path: str) -> None:
    configuration_log.info("Configuration file %s changed and was reloaded.", path)


def configuration_reload_failed(problem: str) -> None:
    configuration_log.error(
        "A watched configuration file changed but cannot be used; the last good "
        "configuration stays: %s", problem)


def options_callback_failed(options_type: str, exc: BaseException) -> None:
    configuration_log.error("An OptionsMonitor[%s].on_change callback raised.", options_type,
                            exc_info=exc)
