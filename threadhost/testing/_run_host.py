"""``run_host``: start a host for the length of a ``with`` block, and insist on a clean stop.

Design note: under a manual ``FakeClock`` the shutdown deadline passes only when the test
advances time, so a stop that waits for a stuck service (or for its deadline) would hang the
test forever. ``run_host`` therefore runs ``host.stop()`` on a helper thread,
``threadhost:run_host-stop``, and waits for it at most ``STOP_LIMIT`` seconds of *real*
time; past that it raises AssertionError naming what the stop still waits for (the pending
virtual deadlines, the threads blocked on the clock, the threads still running with their
stacks). The helper is left blocked (a daemon thread): advancing the clock lets it finish.
On the system clock the stop is bounded by its own deadline and runs on the calling thread.
Rejected: advancing the clock on the test's behalf after the limit (it would run service
code the test never asked for, and hide the bug the message is about).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from threadhost._building.builder import HostApplicationBuilder
from threadhost._building.host import Host
from threadhost._hosting.report import ShutdownReport, capture_stack
from threadhost._time.cancellation import CancellationTokenSource
from threadhost._time.clock import Clock
from threadhost._time.threads import start_thread

from ._fake_clock import FakeClock

STOP_LIMIT = 10.0
"""Real seconds ``run_host`` lets a stop under a FakeClock take before it fails the test."""


@contextlib.contextmanager
def run_host(builder_or_host: HostApplicationBuilder | Host, *,
             clock: Clock | None = None) -> Iterator[Host]:
    """Start the host, yield it, then stop it; fail the test if the stop was not clean.

    Any thread (the test's). Given a builder, ``clock`` (if any) is registered as the host's
    clock before building; given a built host, ``clock`` must be None (TypeError otherwise:
    register it on the builder instead). On exit the host is stopped; if the report is not
    clean an AssertionError lists the stragglers, errors and unfinished work. Under a
    ``FakeClock`` the stop never hangs the test: if it has not ended after ``STOP_LIMIT``
    (10) real seconds, AssertionError names what it waits for (with a manual clock, usually
    a deadline the test never advanced to). If the clock recorded stalls and
    ``on_stall="raise"``, the first is raised. An exception from the ``with`` body wins over
    all of these.
    """
    if isinstance(builder_or_host, HostApplicationBuilder):
        if clock is not None:
            builder_or_host.services.add_instance(Clock, clock)
        host = builder_or_host.build()
    else:
        if clock is not None:
            raise TypeError("run_host(host, clock=...): the host is already built; register "
                            "the clock on the builder, or pass the builder instead.")
        host = builder_or_host
    host_clock = host.services.get(Clock)  # type: ignore[type-abstract]
    host.start()
    try:
        yield host
    finally:
        if isinstance(host_clock, FakeClock):
            report = _stop_within_limit(host, host_clock)
        else:
            report = host.stop()
        host.close()
    if not report.clean:
        raise AssertionError(f"the host did not stop cleanly:\n{report}")
    if isinstance(host_clock, FakeClock) and host_clock.on_stall == "raise" and (
            host_clock.stall_errors):
        raise host_clock.stall_errors[0]


def _stop_within_limit(host: Host, clock: FakeClock) -> ShutdownReport:
    """``host.stop()`` on a helper thread, waited for at most STOP_LIMIT real seconds."""
    reports: list[ShutdownReport] = []
    errors: list[BaseException] = []
    done = CancellationTokenSource()  # (system clock: it is cancelled, never timed)

    def stop() -> None:
        try:
            reports.append(host.stop())
        except BaseException as exc:  # handed to the test's thread below
            errors.append(exc)
        finally:
            done.cancel()

    stopper = threading.Thread(target=stop, name="threadhost:run_host-stop", daemon=True)
    start_thread(stopper)
    if not clock._stand_by_for(done.token, STOP_LIMIT):  # inside hold() too
        hint = "" if clock.autojump else (
            "Time on a manual FakeClock moves only when the test advances it: a stop waiting "
            "for its shutdown deadline needs clock.advance(...) in the with block, or "
            "FakeClock(autojump=True). ")
        raise AssertionError(
            f"run_host: host.stop() has not ended after {STOP_LIMIT:g}s of real time. {hint}"
            f"The stop is in:\n{capture_stack(stopper)}"
            f"What the clock waits for:\n{clock._describe()}")
    stopper.join()
    if errors:
        raise errors[0]
    return reports[0]
