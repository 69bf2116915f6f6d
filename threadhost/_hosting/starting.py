"""The start procedure: ``START_PLAN`` made on the thread calling ``Host.start()``.

Start aborts at the first failure (in a concurrent phase: once every call of the phase has
returned, with all their errors), and stops early, quietly, when a stop was requested: it asks
before every call. Every hosted service is resolved before any starts, so a service that cannot
be constructed fails the start with nothing to undo.

A phase's calls are made (as objects) before the first is called. A service is RUNNING once
its own last start call returned, not when the whole host has started.

A BackgroundService's own ``start`` is *prepared*: its first run's thread object and token are
made for the whole phase before the first call (``background_service.prepare_start``), so the
phase's calls are little more than thread starts; a ``start`` overridden or wrapped (tracing,
``mock.patch``, on the class or on ``BackgroundService`` itself) is called as it is. It is the
same call on every clock.

Rejected: starting each service's
thread from the previous service's thread (a relay): a thread start costs one wake-up either
way, and a thread start that fails would fail on a service thread.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from threadhost import _log_messages as log
from threadhost._hosting.background_service import prepare_start
from threadhost._hosting.hosted_service import (
    HostedRegistration,
    HostedService,
    is_lifecycle,
    is_slot_attached,
)
from threadhost._hosting.lifetime import HostLifetime
from threadhost._hosting.plan import START_PLAN, Call, Target, run_start_group
from threadhost._hosting.slot import set_current_slot
from threadhost._hosting.states import ServiceState
from threadhost._hosting.stopping import Entry
from threadhost._time.cancellation import CancellationToken

if TYPE_CHECKING:
    from threadhost._hosting.core import HostCore

_STARTING, _RUNNING = ServiceState.STARTING, ServiceState.RUNNING  # (see states.py)


@dataclass
class StartFailure:
    """The start calls that failed (one, or several of a concurrent phase)."""

    calls: list[Call]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.calls]


def run_start(core: HostCore, token: CancellationToken, limit: float | None
          ) -> StartFailure | Outcome:
    """Make the start plan's calls: the failure, ``DONE``, or ``ABORTED`` (a stop came
    first)."""
    def go_on(name: str | None) -> bool:
        if core.channel.requested:
            return False
        if token.is_cancellation_requested:
            assert limit is not None
            log.startup_timed_out(limit, name)
            call = Call(name or "startup", "start", lambda: None)
            call.error = TimeoutError(f"startup did not finish within {limit}s")
            raise _Failed(StartFailure([call]))

        return True

    try:
        lifetime_call = Call("lifetime", "wait_for_start", functools.partial(
            _wait_for_start, core, token))
        if go_on(None) and run_start_group([lifetime_call], core.clock):
            return StartFailure([lifetime_call])
        if not go_on(None):
            return ABORTED
        entries = _resolve(core)
        if isinstance(entries, StartFailure):
            return entries
        core.roster.resolved(entries)
        concurrent = core.options.services_start_concurrently
        channel, clock = core.channel, core.clock
        memo: dict[type, bool] = {}
        lifecycle = [e for e in entries if is_lifecycle(e.service, memo)]
        lifecycle_names = frozenset(e.name for e in lifecycle)
        for phase in START_PLAN:
            if phase.target is Target.SERVICES:
                chosen = entries
            elif phase.target is Target.LIFECYCLE:
                chosen = lifecycle
            else:
                continue
            starting = phase.name == "start"
            # A service is RUNNING once its last call of the start plan returned :
            # its start, or for a lifecycle service its started. Only from STARTING: an
            # adapter may have moved it on (STANDBY), and one that crashed meanwhile may be
            # RESTARTING.
            last = "started" if phase.target is Target.LIFECYCLE else "start"
            running = phase.name == last
            later = lifecycle_names if phase.target is Target.SERVICES else frozenset()
            calls = [_call_for(core, e, phase.name, token) for e in chosen]
            core._start_calls = calls  # the one(s) under way: begun and not done
            if concurrent and phase.concurrent and len(calls) > 1:  # one group, side by side
                if (channel.requested or token.is_cancellation_requested) and (
                        not go_on(calls[0].name)):
                    return ABORTED
                for e in chosen:
                    e.slot.move(ServiceState.STARTING)
                failed = run_start_group(calls, clock)
                made = [e for e, c in zip(chosen, calls, strict=True) if c.error is None]
                if running:
                    _now_running(made, later)
                if starting:
                    core.roster.started(made)
                if failed:
                    core.roster.failed([e for e, c in zip(chosen, calls, strict=True)
                                        if c.error is not None])
                    return StartFailure(failed)
                continue
            for call, entry in zip(calls, chosen, strict=True):
                if (channel.requested or token.is_cancellation_requested) and (
                        not go_on(call.name)):
                    return ABORTED
                entry.slot.move(_STARTING)
                call.run(clock)
                if call.error is not None:
                    core.roster.failed((entry,))
                    return StartFailure([call])
                if running and entry.name not in later:  # (from STARTING only: see above)
                    entry.slot.move(_RUNNING, only_from=_STARTING)
                if starting:
                    core.roster.started((entry,))
        return DONE if go_on(None) else ABORTED
    except _Failed as failed:
        return failed.failure

def _now_running(entries: Sequence[Entry], later: frozenset[str]) -> None:
    """``entries`` made their last start call (but those named in ``later``, which have one
    more to make): RUNNING now."""
    for entry in entries:
        if entry.name not in later:
            entry.slot.move(ServiceState.RUNNING, only_from=ServiceState.STARTING)


def _wait_for_start(core: HostCore, token: CancellationToken) -> None:
    lifetime = core.injector.get(HostLifetime)  # type: ignore[type-abstract]
    core.lifetime = lifetime
    lifetime.wait_for_start(token)

def _resolve(core: HostCore) -> list[Entry] | StartFailure:
    """Construct every hosted service, in order, and give each its slot (every one resolved
    gets one, also when a later one cannot be constructed: health lists it)."""
    services: list[HostedService] = []
    names: list[str] = []
    seen: dict[str, int] = {}
    failure: StartFailure | None = None
    for factory in core.factories:
        try:
            service = factory(core.injector)  # type: ignore[operator]
            registration = factory if isinstance(factory, HostedRegistration) else None
            base = (registration and registration.name) or type(service).__name__
            adapter = registration.adapter if registration is not None else None
            if adapter is not None:  # run in its place, under its name
                service = adapter(service, core.injector)
        except Exception as exc:
            call = Call(getattr(factory, "service_name", repr(factory)), "construction",
                        lambda: None)
            call.error = exc
            failure = StartFailure([call])
            break
        count = seen[base] = seen.get(base, 0) + 1
        names.append(base if count == 1 else f"{base}#{count}")
        services.append(service)
    slots = core.registry.add_all(names)
    for factory, slot in zip(core.factories[:len(slots)], slots, strict=True):
        if isinstance(factory, HostedRegistration):
            slot.restart = factory.restart
            slot.liveness_timeout = factory.liveness_timeout
    if failure is not None:
        return failure
    memo: dict[type, bool] = {}
    for service, slot in zip(services, slots, strict=True):
        if is_slot_attached(service, memo):
            service._attach_slot(slot)
    return [Entry(n, s, slot) for n, s, slot in zip(names, services, slots, strict=True)]


class Outcome:
    """How a start that did not fail ended."""


DONE, ABORTED = Outcome(), Outcome()


class _Failed(Exception):  # noqa: N818  (not an error: how go_on() leaves the plan)
    def __init__(self, failure: StartFailure) -> None:
        super().__init__()
        self.failure = failure


def _call_for(core: HostCore, entry: Entry, hook: str, token: CancellationToken) -> Call:
    """The start plan's call for ``entry`` in phase ``hook``: a BackgroundService's own
    ``start`` prepared now (``prepare_start``), else the service's method as it is."""
    if hook == "start":
        prepared = prepare_start(entry.service, entry.slot, token)
        if prepared is not None:
            return Call(entry.name, hook, prepared)
    return Call(entry.name, hook, functools.partial(_call_in_slot, entry, hook, token))


def _call_in_slot(entry: Entry, hook: str, token: CancellationToken) -> None:
    outer = entry.slot.make_current()
    try:
        getattr(entry.service, hook)(token)
    finally:
        set_current_slot(outer)

