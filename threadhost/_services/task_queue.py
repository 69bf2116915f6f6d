"""``BackgroundTaskQueue`` and ``QueuedHostedService``: bounded work handed to worker threads.

Nothing is dropped silently. At stop the workers keep taking queued work until the queue is
empty or the shutdown deadline passes; what is still queued then is never started, and is
logged at WARNING (count and each item's repr) and listed in ``ShutdownReport.unfinished_work``.
An item still running at the deadline is left to finish (its token is cancelled) and its worker
is reported as a straggler. Once the service has stopped, or the host stopped without ever
starting it (an earlier service failed to start), ``enqueue`` raises instead of accepting work
that would never run: the service is handed its slot as soon as the host makes it
(``SlotAttached``), so the stop reaches its queue even then.

Waiting: workers and blocked producers wait through the host's clock (on one-shot signals that
are replaced each time they fire), so a ``FakeClock`` sees them as blocked, and a test under
autojump runs the queue deterministically.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import final

from threadhost._errors import QueueFullError
from threadhost._hosting.deadline import deadline_of
from threadhost._hosting.hosted_service import SlotAttached
from threadhost._hosting.registry import standalone_slot
from threadhost._hosting.slot import ServiceSlot, current_slot
from threadhost._services import messages
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource, wait_any
from threadhost._time.clock import SYSTEM_CLOCK, Clock

WorkItem = Callable[[CancellationToken], object]

IDLE_HEARTBEAT = 1.0
"""Seconds (host clock) between the heartbeats of an idle worker (at least one a
second while idle). One timed wait per idle worker per second: no cost while there is work."""


@final
class BackgroundTaskQueue:
    """A bounded FIFO of work items, ``work(token) -> None``, run by a ``QueuedHostedService``.

    ``capacity`` is the most items waiting at once. ``on_unfinished(items)``, if given, is
    called once at stop, on a host thread, with the work never started (in queue order) before
    the report is published, so the application can persist or requeue it; an exception from it
    is reported as an error of the queue's service. ``clock`` measures ``enqueue`` timeouts;
    by default the queue adopts the host's clock when its service starts (the system clock
    before that). Register one instance and inject it where work is produced::

        builder.services.add_instance(BackgroundTaskQueue, BackgroundTaskQueue(100))
        builder.services.add_hosted_service(QueuedHostedService)

    Thread-safe: any thread may enqueue.
    """

    # Waiting, as threading.Condition does it: each waiter (a worker wanting an item, a
    # producer wanting room) brings its own one-shot signal and queues it; a change wakes
    # exactly one waiter. Signals are token sources so the waits go through the clock.
    # (Rejected: one shared signal replaced on every change, which woke every idle worker
    # for each item: 3x slower than queue.Queue with 4 workers.)

    def __init__(self, capacity: int, on_unfinished: Callable[[list[WorkItem]], object] | None
                 = None, *, clock: Clock | None = None) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"BackgroundTaskQueue(capacity={capacity!r}): expected an int >= 1")
        if on_unfinished is not None and not callable(on_unfinished):
            raise TypeError(f"BackgroundTaskQueue(on_unfinished={on_unfinished!r}): expected a "
                            "callable taking the list of work items not started")
        self._capacity = capacity
        self.on_unfinished = on_unfinished
        self._clock = clock
        self._lock = threading.Lock()
        self._items: deque[WorkItem] = deque()  # guarded by _lock
        self._takers: deque[CancellationTokenSource] = deque()  # guarded by _lock
        self._producers: deque[CancellationTokenSource] = deque()  # guarded by _lock
        self._closed: str | None = None  # guarded by _lock: why the queue refuses work
        self._consumer: QueuedHostedService | None = None  # guarded by _lock

    @property
    def capacity(self) -> int:
        """The most items that can wait in the queue at once."""
        return self._capacity

    def __len__(self) -> int:
        """Items waiting (not yet taken by a worker)."""
        return len(self._items)

    def enqueue(self, work: WorkItem, timeout: float | None = None) -> None:
        """Add ``work``; block while the queue is full.

        ``timeout`` (seconds on the queue's clock; None: no limit) bounds the wait for room:
        past it ``QueueFullError`` is raised and the item is not added. Raises TypeError for a
        non-callable and RuntimeError once the queue's service has stopped, or its host
        stopped without starting it (the work would never run).
        """
        if not callable(work):
            raise TypeError(f"enqueue() needs a callable taking a CancellationToken, got "
                            f"{work!r}")
        clock = self._clock or SYSTEM_CLOCK
        end = None if timeout is None else clock.monotonic() + timeout
        while True:
            with self._lock:
                if self._closed is not None:
                    raise RuntimeError(
                        f"Cannot enqueue {work!r}: the queue's QueuedHostedService "
                        f"{self._closed}, so the work would never run.")
                if len(self._items) < self._capacity:
                    self._items.append(work)
                    wake = self._takers.popleft() if self._takers else None
                    break
                remaining = None if end is None else end - clock.monotonic()
                if remaining is not None and remaining <= 0:
                    raise QueueFullError(
                        f"BackgroundTaskQueue is full ({self._capacity} items) and no room was "
                        f"made within {timeout}s; {work!r} was not added")
                room = CancellationTokenSource(clock)
                self._producers.append(room)
            self._wait(room, self._producers, remaining)
        if wake is not None:
            wake.cancel()

    def _wait(self, signal: CancellationTokenSource, line: deque[CancellationTokenSource],
              timeout: float | None) -> None:
        if not signal.token.wait(timeout):
            with self._lock:  # timed out: leave the line, unless woken meanwhile
                if signal in line:
                    line.remove(signal)

    # -- for QueuedHostedService -------------------------------------------------------------

    def _attach(self, consumer: QueuedHostedService, clock: Clock) -> None:
        with self._lock:
            if self._consumer is not None and self._consumer is not consumer:
                raise RuntimeError(
                    f"{type(consumer).__name__}: this BackgroundTaskQueue is already served by "
                    "another QueuedHostedService; give each service its own queue, or run more "
                    "workers in one.")
            self._consumer = consumer
            if self._clock is None:
                self._clock = clock

    def _take(self, draining: CancellationToken, abandoned: CancellationToken,
              idle: Callable[[], None] | None = None) -> WorkItem | None:
        """The next item; None when the worker should end (abandoned, or drained and empty).
        While it waits, ``idle()`` is called every ``IDLE_HEARTBEAT`` seconds (queue's clock)."""
        clock = self._clock or SYSTEM_CLOCK
        while True:
            with self._lock:
                if abandoned.is_cancellation_requested:
                    return None
                if self._items:
                    item = self._items.popleft()
                    room = self._producers.popleft() if self._producers else None
                    break
                if draining.is_cancellation_requested:
                    return None
                signal = CancellationTokenSource(clock)
                self._takers.append(signal)
            self._wait(signal, self._takers, None if idle is None else IDLE_HEARTBEAT)
            if idle is not None:
                idle()  # woken or timed out: either way the worker is alive and waiting
        if room is not None:
            room.cancel()
        return item

    def _wake_takers(self) -> None:
        """Wake every waiting worker (to see a stop)."""
        with self._lock:
            takers = list(self._takers)
            self._takers.clear()
        for signal in takers:
            signal.cancel()

    def _close(self, why: str = "has stopped") -> list[WorkItem]:
        """Refuse new work; return what was never taken."""
        with self._lock:
            if self._closed is None:
                self._closed = why
            left = list(self._items)
            self._items.clear()
            producers = list(self._producers)
            self._producers.clear()
        for signal in producers:
            signal.cancel()  # blocked producers wake and see the queue closed
        return left

    def __repr__(self) -> str:
        return f"<BackgroundTaskQueue {len(self._items)}/{self._capacity}>"


@dataclass
class _Workers:
    # Written by start() before the workers start, then by stop(); single-reference reads.
    slot: ServiceSlot | None = None
    started: bool = False
    draining: CancellationTokenSource | None = None
    abandoned: CancellationTokenSource | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class QueuedHostedService(SlotAttached):
    """Runs the work of a ``BackgroundTaskQueue`` on ``workers`` threads.

    Workers are daemon threads named ``threadhost:<ClassName>:<n>``, accounted by the host.
    Each item is called with a token that is cancelled when the shutdown deadline passes. An
    exception from an item is logged with its traceback and the worker goes on. At stop,
    queued work keeps running until the queue is empty or the deadline passes; see the module
    notes for what happens to the rest. ``queue`` and ``workers`` are the constructor's
    arguments; the base class keeps the rest of its state under ``_threadhost``. ``start()``
    raises ValueError for ``workers < 1``, RuntimeError if the queue already has a service.
    """

    def __init__(self, queue: BackgroundTaskQueue, workers: int = 1) -> None:
        self.queue = queue
        self.workers = workers

    def _workers(self) -> _Workers:
        state: _Workers | None = self.__dict__.get("_threadhost")
        if state is None:
            state = self.__dict__.setdefault("_threadhost", _Workers())
        return state

    def start(self, cancellation_token: CancellationToken) -> None:
        """Start the worker threads and return at once (on a host thread)."""
        name = type(self).__name__
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or (
                self.workers < 1):
            raise ValueError(f"{name}.workers={self.workers!r} is invalid: expected an int >= 1")
        state = self._workers()
        with state.lock:
            if state.started:
                raise RuntimeError(f"Cannot start {name}: it runs only once.")
            state.started = True
            slot = state.slot = state.slot or current_slot() or standalone_slot(
                name, cancellation_token.clock)
        clock = slot.clock
        self.queue._attach(self, clock)
        slot.queue_depth = self.queue.__len__
        slot.heartbeat()  # the run begins: the age counts from here until the first item
        state.draining = CancellationTokenSource(clock)
        state.abandoned = CancellationTokenSource(clock)
        slot.on_ask = functools.partial(self._ask, state)
        for index in range(self.workers):
            slot.spawn(lambda: self._work(state), f"threadhost:{slot.name}:{index}")

    def stop(self, cancellation_token: CancellationToken) -> None:
        """Let the workers drain the queue until it is empty or ``cancellation_token`` fires
        (the deadline); then stop taking work and account for what is left. Called on a host
        thread; idempotent."""
        state = self._workers()
        slot, draining = state.slot, state.draining
        if slot is None or draining is None:
            return
        draining.cancel()
        self.queue._wake_takers()
        if threading.current_thread() not in slot.live_threads():
            ended = slot.ended_token()
            deadline = deadline_of(cancellation_token)
            drained = (deadline.wait(ended) if deadline is not None
                       else wait_any([ended, cancellation_token]))
            if not drained:
                self._abandon(state)
        left = self.queue._close()
        if left:
            messages.unfinished_work(slot.name, list(left))
            slot.report_unfinished(left)
            hand_over = self.queue.on_unfinished
            if hand_over is not None:
                hand_over(list(left))  # user code: on this (abandonable) runner thread

    def _attach_slot(self, slot: ServiceSlot) -> None:
        """Until it starts, a stop that reaches the service closes its queue (``_refuse``)."""
        state = self._workers()
        with state.lock:
            if state.slot is None:
                state.slot = slot
                slot.on_ask = functools.partial(self._refuse, slot)

    def _refuse(self, slot: ServiceSlot) -> None:
        """``ServiceSlot.on_ask`` of a service never started: its queue refuses work from now
        on, and what was queued before is reported as never started. Never blocks."""
        left = self.queue._close("never started (the host stopped before starting it)")
        if left:
            messages.unfinished_work(slot.name, list(left))
            slot.report_unfinished(left)

    def _ask(self, state: _Workers) -> None:
        """``ServiceSlot.on_ask`` (this service's stop was never made, or was abandoned): stop
        taking work, refuse new work, and account for what is left. ``on_unfinished`` is user
        code, so it is not called here: the items are logged and reported. Never blocks."""
        assert state.draining is not None and state.slot is not None
        state.draining.cancel()  # threadhost's own tokens: no user callback on them
        self._abandon(state)
        left = self.queue._close()
        if left:
            messages.unfinished_work(state.slot.name, list(left))
            state.slot.report_unfinished(left)

    def _abandon(self, state: _Workers) -> None:
        assert state.abandoned is not None
        state.abandoned.cancel()
        self.queue._wake_takers()

    def _work(self, state: _Workers) -> None:
        assert state.draining is not None and state.abandoned is not None
        assert state.slot is not None
        token = state.abandoned.token
        try:
            while True:
                item = self.queue._take(state.draining.token, token, state.slot.heartbeat)
                if item is None:
                    return
                try:
                    item(token)
                except Exception as exc:
                    messages.work_item_failed(state.slot.name, item, exc)
                    state.slot.count_failure(exc)
                state.slot.heartbeat()
        except BaseException as exc:  # the loop itself failed: the service has failed
            state.slot.run_ended(exc, stop_requested=state.draining.is_cancellation_requested)

    def __repr__(self) -> str:
        return f"<QueuedHostedService {type(self).__name__} workers={self.workers}>"
