"""Cancellation tokens, as in .NET's System.Threading.

A ``CancellationTokenSource`` owns the right to cancel; the ``CancellationToken`` it hands out
can only observe. Both are built on one ``threading.Event`` (so a thread can block on a token)
plus a list of callbacks. Timed waits go through the source's ``Clock``.

Locking: each source has one lock guarding its callbacks, its timer and its links. Callbacks
are copied out under the lock and run after it is released, so a callback may register,
unregister or cancel freely.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import ClassVar, final

from threadhost import _log_messages as log
from threadhost._errors import OperationCanceledError
from threadhost._time.clock import SYSTEM_CLOCK, Clock, SystemClock, TimerHandle


class Latch:
    """A one-way gate on a single lock: closed until ``set()``, then open for good.

    What ``threading.Event`` offers a token, at a fraction of the cost (an Event builds a
    Condition: measured 5 us against 0.3 us here, paid twice for every BackgroundService).
    The lock is held while the gate is closed; ``set()`` releases it once, and each waiter
    acquires and at once releases it, so every waiter wakes (as ``Thread.join`` does with its
    state lock). ``set()`` must be called at most once, which the source's lock ensures.
    """

    __slots__ = ("_lock", "_open")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._open = False

    def is_set(self) -> bool:
        """True once ``set()`` was called."""
        return self._open

    def set(self) -> None:
        """Open the gate; call once (the owner's lock ensures it)."""
        self._open = True
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until set (True) or for ``timeout`` real seconds (then whether it is set)."""
        if self._open:
            return True
        if self._lock.acquire(True, -1 if timeout is None else max(timeout, 0.0)):
            self._lock.release()
            return True
        return self._open


@final
class Registration:
    """A callback registered on a token; ``unregister()`` takes it back.

    Thread-safe. Returned by ``CancellationToken.register``.
    """

    __slots__ = ("_key", "_source")

    def __init__(self, source: CancellationTokenSource | None, key: int) -> None:
        self._source = source
        self._key = key

    def unregister(self) -> bool:
        """Remove the callback. True if it was removed before it ran, False if it has run
        (or is running) or was already removed. Thread-safe, idempotent."""
        source, self._source = self._source, None
        if source is None:
            return False
        with source._lock:
            callbacks = source._callbacks
            return callbacks is not None and callbacks.pop(self._key, None) is not None


_DEAD_REGISTRATION = Registration(None, -1)


class _Quiet:
    """A callback of threadhost's own (see ``CancellationToken._register_quiet``)."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[[], object]) -> None:
        self._fn = fn

    def __call__(self) -> object:
        return self._fn()


def _run_quiet(callbacks: list[Callable[[], object]]) -> None:
    """Run threadhost's own callbacks, in the order given; one that raises (a bug of
    threadhost's) is logged and the others still run."""
    for callback in callbacks:
        try:
            callback()
        except Exception as exc:
            log.callback_failed("a wake-up of threadhost's own", exc)


@final
class CancellationToken:
    """A read-only view of a ``CancellationTokenSource``: ask, wait, or register a callback.

    Obtain one from ``CancellationTokenSource.token``; ``CancellationToken.NONE`` is never
    cancelled. Thread-safe: any thread may query, wait on or register on a token. For legacy
    code it also answers ``is_set()`` like the ``threading.Event`` it replaces.
    """

    NONE: ClassVar[CancellationToken]
    __slots__ = ("_can_be_cancelled", "_event", "_source", "_system")

    def __init__(self, source: CancellationTokenSource, *, _can_be_cancelled: bool = True) -> None:
        self._source = source
        self._event = source._event
        self._can_be_cancelled = _can_be_cancelled
        # SystemClock is final, and its wait without a timeout is a wait on the latch: made
        # here directly, it costs two frames less (on every service thread, before its work
        # first blocks, while the host waits to start the next).
        self._system = type(source._clock) is SystemClock

    @property
    def is_cancellation_requested(self) -> bool:
        """True once the source has been cancelled (it never goes back)."""
        return self._event._open  # (the latch's is_set(), one call fewer: read in hot loops)

    @property
    def can_be_cancelled(self) -> bool:
        """False only for ``CancellationToken.NONE``."""
        return self._can_be_cancelled

    @property
    def clock(self) -> Clock:
        """The clock that measures this token's timed waits."""
        return self._source._clock

    def is_set(self) -> bool:
        """Same as ``is_cancellation_requested``, for code written against ``threading.Event``."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block the calling thread until the token is cancelled or ``timeout`` seconds pass.

        Returns True as soon as the token is cancelled, False on timeout. ``timeout`` is
        measured on the source's clock (under a ``FakeClock``, only advancing it ends the
        wait); None waits until cancelled. A ``timeout`` of 0 or less never blocks (as every
        other wait: ``threading.Event.wait(-1)`` returns at once too). Never raises.
        """
        if timeout is None and self._system:
            return self._event.wait(None)
        if self._event.is_set() or (timeout is not None and timeout <= 0):
            return self._event.is_set()
        if self._event.is_set():
            return True
        return self._source._clock.wait(self, timeout)

    def register(self, callback: Callable[[], object]) -> Registration:
        """Run ``callback()`` when the token is cancelled; at once if it already is.

        Callbacks run once, on the thread that cancels, in reverse order of registration.
        On ``CancellationToken.NONE`` nothing is stored and the callback never runs.
        """
        if not self._can_be_cancelled:
            return _DEAD_REGISTRATION
        source = self._source
        with source._lock:
            if not self._event.is_set():
                key = source._next_key
                source._next_key += 1
                if source._callbacks is None:
                    source._callbacks = {}
                source._callbacks[key] = callback
                return Registration(source, key)
        callback()
        return _DEAD_REGISTRATION

    def _register_quiet(self, callback: Callable[[], object]) -> Registration:
        """``register`` for threadhost's own callbacks that never block and run no user code
        (a ``FakeClock`` waking a waiter): a cancel made on the thread carrying out a stop may
        run them there (``_cancel_quietly``), so a waiter wakes at once, not later on a
        thread of its own while virtual time could move. Internal."""
        return self.register(_Quiet(callback))

    def raise_if_cancellation_requested(self) -> None:
        """Raise ``OperationCanceledError`` (with ``.token`` set) if the token is cancelled."""
        if self._event.is_set():
            raise OperationCanceledError(token=self)

    def __repr__(self) -> str:
        if not self._can_be_cancelled:
            return "<CancellationToken NONE>"
        state = "cancelled" if self._event.is_set() else "active"
        return f"<CancellationToken {state}>"


class CancellationTokenSource:
    """Signals cancellation to the holders of its ``token``.

    ``clock`` measures ``cancel_after`` and the token's timed waits (default: the system
    clock). Thread-safe. ``cancel()`` is idempotent; its callbacks run on the cancelling
    thread. ``close()`` (or leaving a ``with`` block) drops the links of a linked source and
    its pending ``cancel_after`` timer; it does not cancel.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._event = Latch()  # set under _lock, so register() sees a settled state
        # Each made when first needed: most sources never get a callback or a link, and a
        # host makes one per service run (fewer objects for the collector to visit).
        self._callbacks: dict[int, Callable[[], object]] | None = None  # guarded by _lock
        self._next_key = 0  # guarded by _lock
        self._timer: TimerHandle | None = None  # guarded by _lock
        self._links: list[Registration] | None = None  # guarded by _lock
        self._token = CancellationToken(self)

    @classmethod
    def create_linked(cls, *tokens: CancellationToken) -> CancellationTokenSource:
        """A new source that is cancelled as soon as any of ``tokens`` is.

        It uses the clock of the first token that can be cancelled. If one of the tokens is
        already cancelled, the new source is returned cancelled. Call ``close()`` when done
        with it, so the parents drop their callbacks.
        """
        clock = next((t.clock for t in tokens if t.can_be_cancelled), None)
        linked = cls(clock)
        links = [t.register(linked._cancel_from_link) for t in tokens]
        with linked._lock:
            linked._links = links
        return linked

    @property
    def token(self) -> CancellationToken:
        """The token this source controls."""
        return self._token

    @property
    def is_cancellation_requested(self) -> bool:
        """True once ``cancel()`` has been called (or a timer or a link cancelled it)."""
        return self._event._open  # (as CancellationToken's)

    def cancel(self) -> None:
        """Cancel the token and run its callbacks on this thread, in reverse registration order.

        Idempotent and thread-safe: only the first call runs the callbacks; a later or
        concurrent call returns at once. Every callback runs even if some raise (a
        ``BaseException`` such as ``SystemExit`` included); their exceptions are raised together
        afterwards as an ``ExceptionGroup`` (a ``BaseExceptionGroup`` if one of them is not an
        ``Exception``).
        """
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, None
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if not callbacks:
            return
        errors: list[BaseException] = []
        for callback in reversed(list(callbacks.values())):
            try:
                callback()
            except BaseException as exc:  # collected: one failing callback must not stop the rest
                errors.append(exc)
        if errors:
            # BaseExceptionGroup builds an ExceptionGroup when every error is an Exception.
            raise BaseExceptionGroup(f"{len(errors)} cancellation callback(s) raised", errors)

    def _cancel_quietly(self) -> bool:
        """Cancel unless a callback of the application's is registered (then False, and
        nothing changes): a cancel that runs no user code, which threadhost may make on any
        thread (the stop's own). Its own quiet callbacks (``_register_quiet``) run here."""
        with self._lock:
            if self._event._open:  # (is_set(), without a call: once per service per stop)
                return True
            callbacks = self._callbacks
            if callbacks and not all(type(c) is _Quiet for c in callbacks.values()):
                return False
            self._event.set()
            self._callbacks = None
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if callbacks:
            _run_quiet([*callbacks.values()][::-1])
        return True

    def _cancel_handing_over(self) -> list[Callable[[], object]]:
        """Cancel now, run threadhost's own quiet callbacks here, and return the others (the
        application's, in the order ``cancel`` runs them) for the caller to run elsewhere."""
        with self._lock:
            if self._event.is_set():
                return []
            self._event.set()
            callbacks, self._callbacks = self._callbacks, None
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        ordered = [*callbacks.values()][::-1] if callbacks else []
        _run_quiet([c for c in ordered if type(c) is _Quiet])
        return [c for c in ordered if type(c) is not _Quiet]

    def cancel_after(self, seconds: float) -> None:
        """Cancel once ``seconds`` have passed on the source's clock; 0 cancels now.

        A later call replaces the pending one. Does nothing once cancelled. Raises ValueError
        for a negative delay.
        """
        if seconds < 0:
            raise ValueError(f"cancel_after() needs seconds >= 0, got {seconds!r}")
        if seconds == 0:
            self.cancel()
            return
        with self._lock:
            if self._event.is_set():
                return
            old, self._timer = self._timer, self._clock.call_later(seconds, self.cancel)
        if old is not None:
            old.cancel()

    def close(self) -> None:
        """Drop the links to parent tokens and any pending ``cancel_after``. Idempotent."""
        with self._lock:
            links, self._links = self._links, None
            timer, self._timer = self._timer, None
        for link in links or ():
            link.unregister()
        if timer is not None:
            timer.cancel()

    def _cancel_from_link(self) -> None:
        self.cancel()

    def __enter__(self) -> CancellationTokenSource:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "cancelled" if self._event.is_set() else "active"
        return f"<CancellationTokenSource {state}>"


def _never_cancelled() -> CancellationToken:
    return CancellationToken(CancellationTokenSource(), _can_be_cancelled=False)


CancellationToken.NONE = _never_cancelled()


def wait_any(tokens: Iterable[CancellationToken], timeout: float | None = None) -> bool:
    """Block until any of ``tokens`` is cancelled or ``timeout`` passes on their clock.

    Internal helper for the host's joins. Returns True if one was cancelled.
    """
    with CancellationTokenSource.create_linked(*tokens) as linked:
        return linked.token.wait(timeout)
