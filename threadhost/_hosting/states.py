"""The lifecycle states of a host and of each service, with their transition tables.

Each table is the whole truth about what may happen next: a ``(state, event)`` pair maps to the
next state and to what the caller must do now. A pair that is not in a table is a bug in
threadhost (``AssertionError``), except where an entry says ``REFUSE``: that is the caller's
mistake, and the entry's message is what they are told.

The host's state is held by ``_host_state.HostStateMachine`` (one lock, the only mutable
lifecycle state of a host); a service's by its ``ServiceSlot`` (``slot``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import final


class HostState(enum.Enum):
    """Where a host is in its life. Internal; ``repr(host)`` shows it."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    CANCELLED = "stopped before it started"
    STOPPED = "stopped"
    CLOSED = "closed"

    # Members are singletons, so identity hashes them; Enum's own __hash__ is Python code,
    # paid on every transition-table lookup (twice per state move of every service).
    __hash__ = object.__hash__


class HostEvent(enum.Enum):
    START = "start() called"
    STARTED = "every service started"
    START_FAILED = "a service failed to start"
    STOP = "a stop was requested"
    STOPPED = "the stop is over"
    CLOSE = "close() called"


class Do(enum.Enum):
    """What the thread that caused a host transition does next."""

    RUN_START = "run the start plan"
    FIRE_STARTED = "fire application_started"
    SKIP = "return at once: a stop came first, or nothing is left to do"
    BEGIN_STOP = "carry out the stop plan (on the control thread)"
    REQUEST_STOP = "ask the control thread to stop, as for any stop request"
    STOP_UNSTARTED = "publish an empty report at once"
    JOIN_STOP = "wait for the stop under way (or done) and share its report"
    PUBLISH = "publish the report"
    REFUSE = "raise RuntimeError"


@final
@dataclass(frozen=True)
class Next:
    state: HostState
    do: Do
    message: str = ""


_S, _E = HostState, HostEvent
_ALREADY = "Cannot start the host, as it has already been started."
_CLOSED = "Cannot start the host, as it has been closed; build a new one."

HOST_TRANSITIONS: dict[tuple[HostState, HostEvent], Next] = {
    (_S.CREATED, _E.START): Next(_S.STARTING, Do.RUN_START),
    (_S.CREATED, _E.STOP): Next(_S.CANCELLED, Do.STOP_UNSTARTED),
    (_S.CREATED, _E.CLOSE): Next(_S.CLOSED, Do.STOP_UNSTARTED),
    (_S.STARTING, _E.STARTED): Next(_S.RUNNING, Do.FIRE_STARTED),
    (_S.STARTING, _E.START_FAILED): Next(_S.STARTING, Do.REQUEST_STOP),
    (_S.STARTING, _E.STOP): Next(_S.STOPPING, Do.BEGIN_STOP),
    (_S.STARTING, _E.START): Next(_S.STARTING, Do.REFUSE, _ALREADY),
    (_S.RUNNING, _E.STOP): Next(_S.STOPPING, Do.BEGIN_STOP),
    (_S.RUNNING, _E.START): Next(_S.RUNNING, Do.REFUSE, _ALREADY),
    # A stop that began during start: start() ends quietly (no application_started), a
    # start failure is one more error of the stop under way.
    (_S.STOPPING, _E.STARTED): Next(_S.STOPPING, Do.SKIP),
    (_S.STOPPING, _E.START_FAILED): Next(_S.STOPPING, Do.SKIP),
    (_S.STOPPING, _E.STOP): Next(_S.STOPPING, Do.JOIN_STOP),
    (_S.STOPPING, _E.START): Next(_S.STOPPING, Do.REFUSE, _ALREADY),
    (_S.STOPPING, _E.STOPPED): Next(_S.STOPPED, Do.PUBLISH),
    # Stopped before it ever started: the first start() returns quietly, once.
    (_S.CANCELLED, _E.START): Next(_S.STOPPED, Do.SKIP),
    (_S.CANCELLED, _E.STOP): Next(_S.CANCELLED, Do.JOIN_STOP),
    (_S.CANCELLED, _E.CLOSE): Next(_S.CLOSED, Do.SKIP),
    (_S.STOPPED, _E.START): Next(_S.STOPPED, Do.REFUSE, _ALREADY),
    # A start call that outlived the whole stop (abandoned at its deadline) ends afterwards.
    (_S.STOPPED, _E.STARTED): Next(_S.STOPPED, Do.SKIP),
    (_S.STOPPED, _E.START_FAILED): Next(_S.STOPPED, Do.SKIP),
    (_S.CLOSED, _E.STARTED): Next(_S.CLOSED, Do.SKIP),
    (_S.CLOSED, _E.START_FAILED): Next(_S.CLOSED, Do.SKIP),
    (_S.STOPPED, _E.STOP): Next(_S.STOPPED, Do.JOIN_STOP),
    (_S.STOPPED, _E.CLOSE): Next(_S.CLOSED, Do.SKIP),
    (_S.CLOSED, _E.START): Next(_S.CLOSED, Do.REFUSE, _CLOSED),
    (_S.CLOSED, _E.STOP): Next(_S.CLOSED, Do.JOIN_STOP),
    (_S.CLOSED, _E.CLOSE): Next(_S.CLOSED, Do.SKIP),
}


class ServiceState(enum.Enum):
    """Where one hosted service is in its life, as ``health()`` reports it.

    ``STARTING`` while its ``starting``/``start``/``started`` calls run, ``RUNNING`` after;
    ``RESTARTING`` while it waits out a restart backoff; ``STANDBY`` while it waits for its
    lease; ``STOPPING`` once the host (or the lease) stops it; ``STOPPED`` when its work has
    ended (also a BackgroundService whose ``execute`` returned while the host goes on);
    ``FAILED`` when it failed for good (it stays FAILED after the host stopped).
    """

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STANDBY = "standby"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"

    __hash__ = object.__hash__  # see HostState


# On Python 3.11 a member looked up on its class (``ServiceState.STOPPED``) is a descriptor
# call, ten times the cost of a module global (measured: 100 ns against 10 ns). The paths
# that run for every service on every start and stop (``slot``, ``starting``, ``roster``,
# ``supervisor``, ``stopping``) bind the members they compare against to module names once.

_V = ServiceState
SERVICE_TRANSITIONS: dict[ServiceState, frozenset[ServiceState]] = {
    _V.CREATED: frozenset({_V.STARTING, _V.STANDBY, _V.STOPPED, _V.FAILED}),
    _V.STARTING: frozenset({_V.RUNNING, _V.RESTARTING, _V.STANDBY, _V.STOPPING, _V.STOPPED,
                            _V.FAILED}),
    _V.RUNNING: frozenset({_V.RESTARTING, _V.STANDBY, _V.STOPPING, _V.STOPPED, _V.FAILED}),
    _V.RESTARTING: frozenset({_V.RUNNING, _V.STOPPING, _V.STOPPED, _V.FAILED}),
    _V.STANDBY: frozenset({_V.STARTING, _V.RUNNING, _V.STOPPING, _V.STOPPED, _V.FAILED}),
    _V.STOPPING: frozenset({_V.STOPPED, _V.FAILED, _V.STANDBY}),
    _V.STOPPED: frozenset({_V.STOPPING, _V.FAILED, _V.STANDBY}),
    _V.FAILED: frozenset(),
}
"""The states each state may move to. FAILED is final; STOPPED may still be stopped (the host
stops every service it started, whether or not its work had ended) or fail (a stop error)."""
