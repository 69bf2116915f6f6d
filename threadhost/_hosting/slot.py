"""``ServiceSlot``: the host's account of one hosted service, its state and its threads.

The host owns one ``ServiceSlot`` per hosted service (in its ``ThreadRegistry``, ``registry``).
Services never start threads of their own making: ``BackgroundService`` and
``QueuedHostedService`` ask their slot to ``spawn`` them, so the slot knows every thread that
runs the service's code, from before it starts until it has ended. The host therefore never
inspects a user object to learn about its threads; stragglers are a query over the slots
(``live_threads``) once the deadline and its grace have passed.

How a service finds its slot: the host makes the slot *current* on the thread that calls the
service's ``start`` (``ServiceSlot.activate``); ``BackgroundService.start`` picks it up with
``current_slot()``. A service started outside any host gets a slot of its own
(``registry.standalone_slot``), so it works the same way, unaccounted. A service's threads are
``ServiceThread``s (``service_thread``), which know their slot.

Locking: each slot has one lock; its state, its threads and its counters are written under
it. Nothing calls out (a callback, a log, a token cancellation) while holding it. The hot
paths of start and stop read a few of them without it (``move`` to the current state,
``ended_latch``, ``ended_token``, ``running``, ``live_threads`` and ``unfinished`` of a slot
with nothing left): each is one read of one reference written under the lock, so the read is
simply ordered before or after that write, and each method says why either order is right.

Rejected: attributes on the service objects that the host looks up (``_live_threads``,
``_bind_host``: a subclass that used those names broke the host); a process-wide list of
threads filtered by name (it cannot tell whose thread is whose).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, final

from threadhost import _log_messages as log
from threadhost._hosting.restart import RestartPolicy, RestartTracker
from threadhost._hosting.service_thread import ServiceThread
from threadhost._hosting.states import SERVICE_TRANSITIONS, ServiceState
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource, Latch
from threadhost._time.clock import Clock

if TYPE_CHECKING:
    from threadhost._hosting.registry import ThreadRegistry

RunEndHandler = Callable[["ServiceSlot", "BaseException | None", bool], None]
"""What the host does when a run of a service's work ends: (slot, error or None, whether the
service had been asked to stop). Called on the ending thread."""

_CREATED, _STARTING, _STOPPED = (  # (see states.py)
    ServiceState.CREATED, ServiceState.STARTING, ServiceState.STOPPED)

_local = threading.local()  # .slot: the slot being started on this thread, if any


@final
class ServiceSlot:
    """The host's record of one service: its name, state, threads and counts.

    Thread-safe. ``spawn`` may be called from any thread (a service's own included, to
    restart); the state moves only along ``SERVICE_TRANSITIONS``.
    """

    __slots__ = ("_gone", "_idle", "_live", "_lock", "_minders", "_runs_over", "_state",
                 "_unfinished", "context", "failures", "heartbeat_at", "last_error",
                 "liveness_timeout", "name", "on_ask", "periodic_runs", "queue_depth",
                 "registry", "rerun", "restart", "restarts", "run_began", "stop_duration",
                 "tracker")

    def __init__(self, name: str, registry: ThreadRegistry) -> None:
        self.name = name
        self.registry = registry
        self.context: dict[str, object] = {}  # what the layers above the kernel attach to
        # the service (an adapter's state, e.g. the lease held); the kernel never reads it
        self.rerun: Callable[[float], None] | None = None  # begin a run after a delay; set by
        # the service (BackgroundService) that can run again
        self.on_ask: Callable[[], Callable[[], object] | None] | None = None  # see ask_to_stop;
        # set by the base class (threadhost's own code) as the service starts
        self.restart: RestartPolicy | None = None  # this service's own policy, if any
        self.liveness_timeout: float | None = None
        self._minders: set[threading.Thread] | None = None  # written under _lock; see launch
        self.tracker: RestartTracker | None = None  # made by the supervisor at the first
        # restart; used only on the thread whose run ended (runs never overlap)
        self.run_began = 0.0  # host clock: when the current run began
        self._runs_over: CancellationTokenSource | None = None  # see begin_runs
        self._lock = threading.Lock()
        self._state = ServiceState.CREATED  # written under _lock
        self._live: set[threading.Thread] = set()  # written under _lock; not detached, not ended
        self._idle: CancellationTokenSource | None = None  # guarded by _lock; see ended_token
        self._gone: Latch | None = None  # written under _lock; see ended_latch
        self._unfinished: list[object] | None = None  # written under _lock (made when needed)
        self.heartbeat_at: float | None = None  # host clock: the later of the last heartbeat
        # and the start of the current run (see _health); a float write is atomic
        # For metrics (_metrics), each written by one thread at a time; single-reference reads:
        self.queue_depth: Callable[[], int] | None = None  # QueuedHostedService: items waiting
        self.periodic_runs: int | None = None  # PeriodicBackgroundService: runs made
        self.stop_duration: float | None = None  # seconds its last stop took (host clock)
        self.restarts = 0  # guarded by _lock
        self.failures = 0  # guarded by _lock
        self.last_error: BaseException | None = None  # guarded by _lock

    @property
    def clock(self) -> Clock:
        """The host's clock."""
        return self.registry.clock

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> ServiceState:
        """The current state (a snapshot)."""
        return self._state

    def move(self, new: ServiceState, *, only_from: ServiceState | None = None) -> bool:
        """Move to ``new`` if the table allows it from the current state (and, with
        ``only_from``, only from that state); False if not (e.g. FAILED is final). Moving to
        the current state is a no-op that returns True."""
        if new is self._state:  # lock-free: as if it happened just before a concurrent move
            return True
        if self._state is _CREATED and new is _STARTING and (
                only_from is None):
            # Lock-free: a slot leaves CREATED only on the thread that resolved its service
            # (the start plan's), before any other thread knows the service.
            self._state = new
            return True
        with self._lock:
            if new is self._state:
                return True
            if only_from is not None and self._state is not only_from:
                return False
            if new not in SERVICE_TRANSITIONS[self._state]:
                return False
            self._state = new
            return True

    # -- threads ---------------------------------------------------------------------------

    def spawn(self, target: Callable[[], object], thread_name: str) -> threading.Thread:
        """Start a daemon thread running ``target()`` for this service, accounted here:
        ``launch(make_thread(target, thread_name))``. Returns the started thread."""
        thread = self.make_thread(target, thread_name)
        self.launch(thread)
        return thread

    def make_thread(self, target: Callable[[], object], thread_name: str) -> threading.Thread:
        """A daemon thread, not yet started, that will run ``target()`` for this service (its
        start is ``launch``)."""
        return ServiceThread(self, target, thread_name)

    def launch(self, thread: threading.Thread, *, minder: bool = False) -> None:
        """Start ``thread`` (from ``make_thread``), accounted here from before it starts until
        it ends.

        The thread is a clock participant from before it starts until it ends; the host's
        thread-exit hooks run on it after its target returns; its service's lease (if any) is
        ``minder``: the thread drives the service rather than runs its work (an adapter's
        thread, which starts and stops the service): it is reported as a straggler if it
        outlives the grace, but the end of the service's work (``ended_token``) does not wait
        for it, so it may itself stop the service and wait for that. Any thread; raises what
        ``Thread.start`` raises, with the thread no longer counted.
        """
        with self._lock:
            if minder:
                if self._minders is None:
                    self._minders = set()
                self._minders.add(thread)
            else:
                self._live.add(thread)
        self.registry.join_clock(thread)
        try:
            thread.start()
        except BaseException:  # e.g. "can't start new thread": it never ran
            self.registry.leave_clock(thread)
            self._forget(thread)
            raise

    def _forget(self, thread: threading.Thread) -> None:
        with self._lock:
            if self._minders is not None:
                self._minders.discard(thread)
            try:
                self._live.remove(thread)
            except KeyError:  # a minder, or detached (waiting in Host.stop())
                return
            idle = gone = None
            if not self._live:
                idle, self._idle = self._idle, None
                gone, self._gone = self._gone, None
        if gone is not None:
            gone.set()
        if idle is not None:
            idle.cancel()

    def ask_to_stop(self) -> None:
        """Ask the service's work to end, without waiting: for a service whose ``stop`` call
        the stop did not make (the grace was spent) or abandoned, so that nothing keeps
        running unasked after ``stop()`` returned.

        ``on_ask`` (the base class's: a BackgroundService cancels its stopping token, a
        QueuedHostedService closes its queue) runs no user code; if the rest of the ask would
        (a callback on the token), it hands that back, and it runs on a thread of its own,
        ``threadhost:ask:<name>``, never on the thread carrying out the stop: a minder of this
        slot (see ``launch``), so a callback still running when the stop reports is a
        straggler. Any thread; never blocks; raises only what ``Thread.start`` raises."""
        ask = self.on_ask
        if ask is None:
            return
        rest = ask()
        if rest is not None:  # a minder of the slot: reported if it is still running then
            self.launch(self.make_thread(functools.partial(_ask_logging, self.name, rest),
                                         f"threadhost:ask:{self.name}"), minder=True)

    def ended_token(self) -> CancellationToken:
        """Cancelled once no thread of this service runs (detached threads do not count).

        A token that is already cancelled if no thread was ever spawned. A later ``spawn``
        (a restart) makes a new token: ask again after it.
        """
        if not self._live:  # a lock-free look first: the common case once stopped
            return _ENDED
        with self._lock:
            if not self._live:
                return _ENDED
            if self._idle is None:  # made when first asked: most services are never waited on
                self._idle = CancellationTokenSource(self.registry.clock)  # twice per stop
            return self._idle.token

    def ended_latch(self) -> Latch | None:
        """Set once no thread of this service runs (as ``ended_token``), without a token:
        the cheap signal the system clock's stop waits on. None if none runs now.

        Made when first asked, as ``ended_token``: the stop asks only after it joined the
        thread it asked to end, so a service whose thread has ended by then costs none (a
        lock and its gate, on every start and every stop). The first look is lock-free: an
        empty account reads as empty or as just emptied, and either way nothing runs."""
        if not self._live:
            return None
        with self._lock:
            if not self._live:
                return None
            if self._gone is None:
                self._gone = Latch()
            return self._gone

    def working(self) -> bool:
        """Whether a thread of this service's work may still run (minders aside): False means
        ``ended_latch()`` is None. Lock-free: a snapshot, for the stop's look before it waits."""
        return bool(self._live)

    def running(self) -> bool:
        """Whether a thread of this service may still run (its work's or a minder's): False
        means ``ended_token()`` is cancelled and ``live_threads()`` empty. Lock-free: a
        snapshot, for the stop's look at every service after the calls."""
        return bool(self._live or self._minders)

    def live_threads(self) -> list[threading.Thread]:
        """The threads of this service still running (not ended, not detached), its minders
        included (see ``launch``)."""
        if not self._live and not self._minders:  # lock-free: the common case once stopped
            return []
        with self._lock:
            live = [t for t in self._live if t.is_alive()]
            live += [t for t in self._minders or () if t.is_alive()]
        return live

    def begin_runs(self) -> CancellationToken:
        """A token cancelled when the service's work has ended for good (a run ended and was
        not restarted): what an adapter's minder thread watches (see ``launch``)."""
        source = CancellationTokenSource(self.registry.clock)
        with self._lock:
            self._runs_over = source
        return source.token

    def end_runs(self) -> None:
        """The service's work has ended for good (called by the supervisor)."""
        if self._runs_over is None:  # lock-free: only a service with a minder has one
            return
        with self._lock:
            source, self._runs_over = self._runs_over, None
        if source is not None:
            source.cancel()

    def make_current(self) -> ServiceSlot | None:
        """Make this slot current on the calling thread; the slot that was (to put back with
        ``set_current_slot``). The host's hot path: ``activate`` without a generator."""
        outer: ServiceSlot | None = getattr(_local, "slot", None)
        _local.slot = self
        return outer

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Make this slot current on the calling thread for the ``with`` block (the host
        wraps each of the service's ``start`` calls in it)."""
        outer = getattr(_local, "slot", None)
        _local.slot = self
        try:
            yield
        finally:
            _local.slot = outer

    # -- accounting ------------------------------------------------------------------------

    def run_ended(self, error: BaseException | None, *, stop_requested: bool) -> None:
        """A run of the service's work ended, cleanly or with ``error`` (already logged);
        called on the run's own thread. Records it, then lets the host act (restart, stop).

        The one end that needs no decision is settled here: asked to stop, and returned
        cleanly, the service is STOPPED (the supervisor's first rule; a slot outside a host,
        with no one to act, keeps its state). The stop of every
        service waits for this thread to end, and the steps made here, on a thread just woken,
        cost several times their warm price: measured, the call into the supervisor was a
        third of the service thread's whole exit."""
        handler = self.registry.on_run_end
        if error is None and stop_requested and handler is not None:
            self.move(_STOPPED)
            self.end_runs()
            return
        if error is not None:
            with self._lock:
                self.last_error = error
        if handler is not None:
            handler(self, error, stop_requested)
        elif error is not None:
            log.service_crashed(self.name, error)
            self.move(ServiceState.FAILED)

    def stopped_in(self, seconds: float) -> None:
        """Record that the service's stop call took ``seconds`` (host clock), as it returns:
        the metric ``threadhost_stop_duration_seconds`` shows it at once, not only once the
        host stopped (the report's timing, written at the end, includes its hooks too)."""
        self.stop_duration = seconds

    def heartbeat(self) -> None:
        """Record progress now (host clock). Any thread; lock-free."""
        self.heartbeat_at = self.registry.monotonic()

    def count_restart(self, error: BaseException | None) -> None:
        """A restart is being made (after ``error``, if the run raised: a survived error)."""
        with self._lock:
            self.restarts += 1
            if error is not None:
                self.failures += 1

    def uncount_restart(self) -> None:
        """The restart ``count_restart`` counted was cancelled during its backoff: it never
        happened (the report does not count it)."""
        with self._lock:
            self.restarts -= 1

    def count_failure(self, exc: BaseException) -> None:
        """An error the service survived (a ``run_once`` or work item that raised)."""
        with self._lock:
            self.failures += 1
            self.last_error = exc

    def report_unfinished(self, items: Sequence[object]) -> None:
        """Work the service never started because the deadline passed (for the report)."""
        with self._lock:
            if self._unfinished is None:
                self._unfinished = []
            self._unfinished.extend(items)

    def unfinished(self) -> list[object]:
        """What ``report_unfinished`` recorded, in order."""
        if not self._unfinished:  # lock-free: the common case
            return []
        with self._lock:
            return list(self._unfinished or ())

    def __repr__(self) -> str:
        return f"<ServiceSlot {self.name} {self._state.value}>"


def _ask_logging(name: str, rest: Callable[[], object]) -> None:
    try:
        rest()
    except BaseException as exc:  # a callback's failure is logged; nobody else would see it
        log.callback_failed(f"the stopping token of {name!r}", exc)


def _ended() -> CancellationToken:
    source = CancellationTokenSource()
    source.cancel()
    return source.token


_ENDED = _ended()


def set_current_slot(slot: ServiceSlot | None) -> None:
    """Make ``slot`` current on the calling thread (None: no slot)."""
    _local.slot = slot


def current_slot() -> ServiceSlot | None:
    """The slot the host made current on this thread (inside a service's ``start``), if any."""
    slot: ServiceSlot | None = getattr(_local, "slot", None)
    return slot
