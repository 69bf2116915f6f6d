"""Carrying out one stop: its steps (``perform_stop``), the stop plan's calls, the wait for
service threads, the report.

Runs on the thread carrying out the stop (``core``). The calls come from ``STOP_PLAN`` (``_plan``)
over the services that had started, so the order lives in one place. After the calls, every
service thread still running gets what is left of the deadline, then of the grace (real time),
to end; what still runs then is a straggler. The report is built from the calls and the slots,
never from attributes of the services.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from threadhost import _log_messages as log
from threadhost._hosting.background_service import prepare_stop
from threadhost._hosting.deadline import Deadline
from threadhost._hosting.hosted_service import HostedLifecycleService, HostedService, is_lifecycle
from threadhost._hosting.lifetime import HostApplicationLifetime, HostLifetime, stops_inline
from threadhost._hosting.log_relay import relaying
from threadhost._hosting.plan import STOP_PLAN, Call, Target, run_stop
from threadhost._hosting.report import (
    ServiceError,
    ShutdownReport,
    Straggler,
    UnfinishedWork,
    capture_stack,
)
from threadhost._hosting.slot import ServiceSlot
from threadhost._hosting.states import ServiceState
from threadhost._time.clock import Clock

if TYPE_CHECKING:
    from threadhost._hosting.channel import StopRequest
    from threadhost._hosting.core import HostCore

_STOPPED = ServiceState.STOPPED  # (see states.py)


@dataclass(slots=True, eq=False)
class Entry:
    """A hosted service the host resolved: its name, the instance and its slot (made once, at
    start, and never changed)."""

    name: str
    service: HostedService
    slot: ServiceSlot


def _always() -> bool:
    return True


_ALWAYS = _always


def _default_hook(service: HostedService, hook: str) -> bool:
    """True if ``service`` keeps HostedLifecycleService's no-op ``hook`` (a class lookup of a
    documented method: nothing of the instance is read)."""
    return getattr(type(service), hook) is getattr(HostedLifecycleService, hook)


def stop_groups(entries: Sequence[Entry], lifetime: HostLifetime | None,
                app: HostApplicationLifetime, deadline: Deadline, *, concurrent: bool
                ) -> list[list[Call]]:
    """The calls of ``STOP_PLAN`` for ``entries`` (registration order), grouped as they run:
    a concurrent phase is one group, a sequential phase one group per call."""
    token = deadline.token
    groups: list[list[Call]] = []
    memo: dict[type, bool] = {}
    lifecycle = [e for e in entries if is_lifecycle(e.service, memo)]
    for phase in STOP_PLAN:
        calls: list[Call] = []
        if phase.target is Target.EVENT:
            stopping = phase.name == "application_stopping"
            calls.append(Call("application", phase.name,
                              app._fire_stopping if stopping else app._fire_stopped,
                              inline=app._fire_stopping_quietly if stopping
                              else app._fire_stopped_quietly,
                              stopping=True))
        elif phase.target is Target.LIFETIME:
            if lifetime is not None:
                calls.append(Call(type(lifetime).__name__, "lifetime",
                                  functools.partial(lifetime.stop, token),
                                  inline=_ALWAYS if stops_inline(lifetime) else None,
                                  stopping=True))
        else:
            services = phase.target is Target.SERVICES
            chosen = list(entries if services else lifecycle)
            if phase.reverse:
                chosen.reverse()
            hook = phase.name
            # Positional arguments (name, phase, fn, inline, stopping, after): per service, a
            # call with keywords costs twice as much to make.
            for entry in chosen:
                service = entry.service
                if not services:
                    calls.append(Call(entry.name, hook, functools.partial(
                        getattr(service, hook), token),
                        _ALWAYS if _default_hook(service, hook) else None, True))
                    continue
                prepared = prepare_stop(service, deadline)
                if prepared is not None:
                    calls.append(Call(entry.name, hook, prepared, prepared.begin_quietly, True,
                                      entry.slot.stopped_in))
                else:
                    calls.append(Call(entry.name, hook, functools.partial(
                        getattr(service, hook), token), None, True, entry.slot.stopped_in))
        if phase.concurrent and concurrent and len(calls) > 1:
            groups.append(calls)
        else:
            groups.extend([c] for c in calls)
    return groups


def carry_out(entries: Sequence[Entry], groups: Sequence[Sequence[Call]], deadline: Deadline,
              clock: Clock, *, not_started: Sequence[Entry] = ()) -> None:
    """Make the calls, then ask every service whose stop was not made (or is stuck), and
    those whose start failed or was never made (``not_started``), to stop all the same; then
    give service threads still running the rest of the deadline and then of the grace to end.
    Blocks the calling thread; never raises."""
    run_stop(groups, deadline, clock)
    asked = {c.name for g in groups for c in g if c.phase == "stop" and c.done}
    everyone = [*entries, *not_started]
    for entry in everyone:
        if entry.name not in asked:
            entry.slot.ask_to_stop()
    for entry in everyone:
        slot = entry.slot
        if not slot.running():
            continue  # the common case: every thread of it has ended
        ended = slot.ended_token()
        if not ended.is_cancellation_requested and not deadline.passed:
            deadline.wait(ended)
        # What still runs settles, a minder included: the work's end does not wait for the
        # minder (a lease thread), which may be running its thread-exit hooks just now.
        live = slot.live_threads()
        if live:
            deadline.settle(live)


@dataclass
class Account:
    """What a stop knows before its calls are made: why, since when, errors so far."""

    reason: str
    began: float
    errors: list[ServiceError]
    stragglers: list[Straggler]


def report(account: Account, entries: Sequence[Entry], groups: Sequence[Sequence[Call]],
           deadline: Deadline, clock: Clock, *, not_started: Sequence[Entry] = ()
           ) -> ShutdownReport:
    """The report of a stop whose calls have been made (or abandoned). Logs each error and
    straggler as it is found (a thread a failed start left running included). Never
    raises."""
    stragglers = list(account.stragglers)
    errors = list(account.errors)
    timings: dict[str, float] = {e.name: 0.0 for e in entries}
    failed: set[str] = {s.name for s in stragglers}
    now = clock.monotonic()
    limit = deadline.seconds
    for group in groups:
        for call in group:
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
                timings[call.name] = now - account.began
                failed.add(call.name)
            else:
                log.hook_not_called(call.name, call.phase)
                errors.append(ServiceError(call.name, TimeoutError(
                    f"{call.phase} was not called: the shutdown deadline had passed"),
                    call.phase))
                failed.add(call.name)
    unfinished: list[UnfinishedWork] = []
    restarts: dict[str, int] = {}
    failures: dict[str, int] = {}
    for entry in entries:
        slot, name = entry.slot, entry.name
        if slot.running():
            for thread in slot.live_threads():
                stack = capture_stack(thread)
                log.straggler(name, "execute", thread.name, limit, stack)
                stragglers.append(Straggler(name, stack, thread.name, "execute"))
                timings[name] = now - account.began
                failed.add(name)
        left = slot.unfinished()
        if left:
            unfinished.extend(UnfinishedWork(name, item) for item in left)
        if slot.restarts:
            restarts[name] = slot.restarts
        if slot.failures:
            failures[name] = slot.failures
    for entry in not_started:
        for thread in entry.slot.live_threads():
            stack = capture_stack(thread)
            log.straggler(entry.name, "execute", thread.name, limit, stack)
            stragglers.append(Straggler(entry.name, stack, thread.name, "execute"))
        unfinished.extend(UnfinishedWork(entry.name, item) for item in entry.slot.unfinished())
    return ShutdownReport(
        restarts=restarts,
        failures=failures,
        reason=account.reason,
        stopped=tuple(e.name for e in reversed(entries) if e.name not in failed),
        stragglers=tuple(stragglers),
        errors=tuple(errors),
        unfinished_work=tuple(unfinished),
        timings=timings,
        elapsed=clock.monotonic() - account.began,
    )


def perform_stop(core: HostCore, request: StopRequest, was_starting: bool) -> ShutdownReport:
    """The stop, in order; one line a step (as .NET's ``StopAsync``). Every wait of every
    step goes through ``budget``, the stop's one deadline and its grace:

    1. the budget: ``shutdown_timeout`` (or the caller's shorter timeout) from now;
    2. the stop begins: the reason logged, threadhost's own notices (``STOPPING=1``...);
    3. the drain: ``shutdown_delay`` on the host's clock (not for a stop during start);
    4. the start yields (its token cancelled); a start call still running is a straggler;
    5. the services whose start returned are taken, and are STOPPING;
    6. ``STOP_PLAN``: application_stopping, stopping, stop, stopped, HostLifetime.stop,
       application_stopped (``_plan.run_stop``);
    7. every service not asked by its stop is asked, then its threads settle;
    8. the report, from the calls and the slots; every service is STOPPED; the closing line;
    9. the ``on_stopped`` notices (probe endpoint, signal watcher, logging put back: last, so
       every line of the stop, stragglers and the closing line included, has the format).
    """
    budget = Deadline(core.clock, min(core.options.shutdown_timeout,
                                      math.inf if request.timeout is None
                                      else request.timeout))
    # Every line this thread logs until the report is out is handled with a bound: a
    # handler that blocks cannot hold the stop (see LogRelay).
    with relaying():
        account = core.begin_stop(request)
        if not was_starting:
            _drain(core, budget)
        account.stragglers += core.yield_start(budget, was_starting)
        entries, failed = core.roster.take(account)
        groups = stop_groups(entries, core.lifetime, core.app, budget,
                             concurrent=core.options.services_stop_concurrently)
        carry_out(entries, groups, budget, core.clock, not_started=failed)
        result = _finish(core, account, entries, groups, budget, failed=failed)
        core.channel.run_stopped(budget)
    return result

def _finish(core: HostCore, account: Account, entries: list[Entry], groups: list[list[Call]],
            budget: Deadline, *, failed: list[Entry]) -> ShutdownReport:
    """Step 8: the report; each service STOPPED, with the time its stop took."""
    account.errors.extend(core.roster.errors_since_taken())
    result = report(account, entries, groups, budget, core.clock, not_started=failed)
    for entry in entries:
        entry.slot.move(_STOPPED)
        entry.slot.stop_duration = result.timings.get(entry.name)
    log.stopped(result)
    return result

def _drain(core: HostCore, deadline: Deadline) -> None:
    """Wait ``shutdown_delay`` on the host's clock (no longer than the deadline leaves:
    a ``Host.stop(timeout)`` may be shorter). Control thread; the signal watcher stays
    independent, so a second signal during the drain still ends the process."""
    delay = core.options.shutdown_delay
    if delay <= 0:
        return
    remaining = deadline.remaining()
    if remaining is not None:
        delay = min(delay, remaining)
    log.draining(delay)
    core.clock.wait(None, delay)
