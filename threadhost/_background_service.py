"""``BackgroundService``: a hosted service whose work runs on a thread of its own."""

from __future__ import annotations

import abc
import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import _log_messages as log
from ._cancellation import CancellationToken, CancellationTokenSource
from ._clock import Clock, SystemClock
from ._errors import OperationCanceledError
from ._hosted_service import HostedService
from ._threads import start_thread


class _Phase(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    CRASHED = "crashed"


_QUICK_JOIN = 0.05
"""Real seconds stop() joins a thread on the system clock before it waits on the deadline."""

CrashHandler = Callable[[HostedService, BaseException], None]
ThreadExitHook = Callable[[], object]


@dataclass
class _State:
    # Every field is written by start() before the thread starts, then only by the thread
    # itself (phase, exception) or by stop(); reads are of single references (atomic).
    phase: _Phase = _Phase.CREATED
    thread: threading.Thread | None = None
    stopping: CancellationTokenSource | None = None
    # Cancelled when the thread ends (or hands itself to Host.stop), and by a stop() whose
    # deadline passed: the one thing stop() waits on. `ended` tells the two apart.
    join_signal: CancellationTokenSource | None = None
    ended: bool = False
    detached: bool = False  # the thread waits in Host.stop(): never wait for it
    exception: BaseException | None = None
    clock: Clock | None = None
    on_crash: CrashHandler | None = None
    exit_hooks: Sequence[ThreadExitHook] = field(default_factory=tuple)
    lock: threading.Lock = field(default_factory=threading.Lock)  # serialises start()


class BackgroundService(HostedService):
    """A hosted service that runs ``execute(stopping_token)`` on its own daemon thread.

    ``start()`` starts one daemon thread named ``threadhost:<ClassName>`` and returns at once,
    so a slow or blocking ``execute`` never delays the host's startup. ``stop()`` cancels the
    stopping token, then joins the thread until it ends or the stop token is cancelled
    (the shutdown deadline), whichever comes first; ``stop()`` before ``start()`` does nothing.

    Leaving ``execute`` after the stopping token fired, by returning or by raising
    ``OperationCanceledError``, is a clean stop. Any other exception is stored in
    ``exception``, logged at ERROR with the service's name, and the host then acts on
    ``HostOptions.background_service_exception_behavior``. Returning early is not an error:
    the host keeps running without this service.

    Subclasses need not call ``super().__init__()``. A service instance runs once: a second
    ``start()`` raises RuntimeError.
    """

    _bg: _State | None = None

    @abc.abstractmethod
    def execute(self, stopping_token: CancellationToken) -> None:
        """The service's work; runs on the service's own thread.

        Return (or raise ``OperationCanceledError``) soon after ``stopping_token`` is
        cancelled; wait through the token (``stopping_token.wait(5)``), never ``time.sleep``,
        so the wait ends at once on stop and follows the host's clock in tests.
        """

    @property
    def thread(self) -> threading.Thread | None:
        """The thread running ``execute``; None before ``start()``."""
        return self._state().thread

    @property
    def stopping_token(self) -> CancellationToken:
        """Cancelled when the service is asked to stop; ``CancellationToken.NONE`` before
        ``start()``."""
        source = self._state().stopping
        return source.token if source is not None else CancellationToken.NONE

    @property
    def exception(self) -> BaseException | None:
        """What ``execute`` raised, or None (also None for a clean cancellation)."""
        return self._state().exception

    @property
    def clock(self) -> Clock:
        """The host's clock (the clock of the token ``start`` received); for timed waits."""
        clock = self._state().clock
        if clock is None:
            raise RuntimeError(f"{type(self).__name__}.clock is not available before start().")
        return clock

    def start(self, cancellation_token: CancellationToken) -> None:
        """Start ``execute`` on a new daemon thread and return at once.

        Called on a host thread. Raises RuntimeError if the service was already started.
        """
        state = self._state()
        with state.lock:
            if state.phase is not _Phase.CREATED:
                raise RuntimeError(
                    f"Cannot start {self!r}: a BackgroundService instance runs only once.")
            clock = cancellation_token.clock
            state.clock = clock
            state.stopping = CancellationTokenSource(clock)
            state.join_signal = CancellationTokenSource(clock)
            state.thread = threading.Thread(
                target=self._run, name=f"threadhost:{type(self).__name__}", daemon=True)
            state.phase = _Phase.RUNNING
            clock.register_participant(state.thread)
            start_thread(state.thread)

    def stop(self, cancellation_token: CancellationToken) -> None:
        """Cancel the stopping token, then wait for the thread to end or for
        ``cancellation_token`` to be cancelled, whichever comes first.

        Called on a host thread; thread-safe and idempotent. Returns without joining when
        called on the service's own thread. Does nothing before ``start()``. An exception from
        a callback on the stopping token is raised (as an ExceptionGroup) after the wait.
        """
        state = self._state()
        if state.stopping is None or state.join_signal is None:
            return
        if state.phase is _Phase.RUNNING:
            state.phase = _Phase.STOPPING
        if threading.current_thread() is state.thread:
            state.stopping.cancel()
            return
        try:
            state.stopping.cancel()
        finally:
            self._join(state, cancellation_token)

    def _join(self, state: _State, cancellation_token: CancellationToken) -> None:
        assert state.join_signal is not None and state.thread is not None
        if state.detached:
            return
        if isinstance(state.clock, SystemClock) and not (
                cancellation_token.is_cancellation_requested):
            # A well-behaved thread ends at once, and join() wakes us exactly when it has (any
            # signal of our own would wake us while it still holds the GIL, a second wake-up:
            # measured 1.6x the bare-threading stop of 1000 services against 1.2x). Bounded,
            # so the deadline is kept to within _QUICK_JOIN.
            state.thread.join(_QUICK_JOIN)
            if not state.thread.is_alive():
                return
        # One signal, fired by whichever comes first: the thread ending or the deadline. Not a
        # linked source: its callback chain would run on the ending service thread.
        registration = cancellation_token.register(state.join_signal.cancel)
        try:
            state.join_signal.token.wait()
        finally:
            registration.unregister()

    def _state(self) -> _State:
        state: _State | None = self.__dict__.get("_bg")
        if state is None:
            state = self.__dict__.setdefault("_bg", _State())
        return state

    def _bind_host(self, on_crash: CrashHandler, exit_hooks: Sequence[ThreadExitHook]) -> None:
        """Called by the host before ``start()``: who hears of a crash, what runs at thread end."""
        state = self._state()
        state.on_crash = on_crash
        state.exit_hooks = exit_hooks

    def _detach_thread(self, thread: threading.Thread) -> None:
        """``thread`` waits in ``Host.stop()``: if it is ours, stop waiting for it."""
        state = self._state()
        if thread is not state.thread:
            return
        state.detached = state.ended = True
        if state.join_signal is not None:
            state.join_signal.cancel()

    def _live_threads(self) -> list[threading.Thread]:
        """Threads of this service still running its code (stragglers, once the deadline
        passed)."""
        state = self._state()
        return [state.thread] if state.thread is not None and not state.ended else []

    def _run(self) -> None:
        state = self._state()
        assert state.stopping is not None and state.join_signal is not None
        assert state.clock is not None
        name = type(self).__name__
        try:
            self.execute(state.stopping.token)
            state.phase = _Phase.STOPPED
        except BaseException as exc:
            if isinstance(exc, OperationCanceledError) and state.stopping.is_cancellation_requested:
                state.phase = _Phase.STOPPED
            else:
                # Logged before anything changes, so the cause is in the logs even if the
                # process dies next.
                log.service_crashed(name, exc)
                state.exception = exc
                state.phase = _Phase.CRASHED
                if state.on_crash is not None:
                    state.on_crash(self, exc)
        finally:
            end_service_thread(name, state.clock, state.exit_hooks)
            state.ended = True
            state.join_signal.cancel()

    def __repr__(self) -> str:
        return f"<BackgroundService {type(self).__name__} {self._state().phase.value}>"


def end_service_thread(name: str, clock: Clock, exit_hooks: Sequence[ThreadExitHook]) -> None:
    """The last acts of every service thread: its exit hooks, then leaving the clock."""
    for hook in exit_hooks:
        try:
            hook()
        except Exception as exc:
            log.thread_exit_hook_failed(name, exc)
    clock.unregister_participant(threading.current_thread())
