"""threadhost.Event and threadhost.Queue: the stdlib shapes, with waits on the clock."""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable

import pytest

import threadhost as th
from tests._services import WAIT, make_builder
from threadhost.testing import FakeClock


def in_thread(fn: Callable[[], object], clock: FakeClock | None = None
              ) -> tuple[threading.Thread, list[object]]:
    """Run ``fn`` on a new thread (a participant of ``clock``); its result or exception."""
    result: list[object] = []

    def run() -> None:
        try:
            result.append(fn())
        except Exception as exc:
            result.append(exc)
        finally:
            if clock is not None:
                clock.unregister_participant(threading.current_thread())

    thread = threading.Thread(target=run)
    if clock is not None:
        clock.register_participant(thread)
    thread.start()
    return thread, result


# -- Event ---------------------------------------------------------------------------------

def test_event_starts_unset_and_set_clear_toggle_it() -> None:
    event = th.Event(FakeClock())
    assert not event.is_set()
    event.set()
    event.set()  # idempotent
    assert event.is_set() and event.wait() and event.wait(0)
    event.clear()
    assert not event.is_set() and event.wait(0) is False
    assert repr(event) == "<threadhost.Event unset>"


def test_event_wait_wakes_when_another_thread_sets_it() -> None:
    event = th.Event(FakeClock())
    thread, result = in_thread(event.wait)
    event.set()
    thread.join(WAIT)
    assert result == [True]


def test_event_wait_times_out_in_virtual_time_only() -> None:
    clock = FakeClock(on_stall="raise")
    event = th.Event(clock)
    thread, result = in_thread(lambda: event.wait(5), clock)
    clock.advance(4.9)  # returns at once: the waiter is blocked in a clock wait, not stalled
    assert result == []
    clock.advance(0.1)
    thread.join(WAIT)
    assert result == [False]
    assert clock.monotonic() == 5


def test_event_wait_returns_true_when_set_then_cleared_before_the_waiter_runs() -> None:
    clock = FakeClock()
    event = th.Event(clock)
    thread, result = in_thread(lambda: event.wait(5), clock)
    clock.advance(0)
    event.set()
    event.clear()
    thread.join(WAIT)
    assert result == [True]  # as threading.Event: it was set while the wait ran


def test_event_on_the_system_clock_by_default() -> None:
    event = th.Event()
    assert event.wait(0.001) is False
    event.set()
    assert event.wait(math.inf)


# -- Queue ---------------------------------------------------------------------------------

def test_queue_is_fifo_and_counts_its_items() -> None:
    items: th.Queue[int] = th.Queue(FakeClock())
    assert items.empty() and items.qsize() == 0 and not items.full()
    for k in range(3):
        items.put(k)
    assert items.qsize() == 3 and not items.empty()
    assert [items.get(), items.get_nowait(), items.get(timeout=0)] == [0, 1, 2]


def test_queue_raises_the_stdlib_errors_without_waiting() -> None:
    items: th.Queue[int] = th.Queue(FakeClock(), maxsize=1)
    with pytest.raises(queue.Empty):
        items.get_nowait()
    with pytest.raises(queue.Empty):
        items.get(block=False)
    items.put_nowait(1)
    assert items.full()
    with pytest.raises(queue.Full):
        items.put_nowait(2)
    with pytest.raises(queue.Full):
        items.put(2, timeout=0)
    with pytest.raises(ValueError, match=r"^'timeout' must be a non-negative number$"):
        items.get(timeout=-1)


def test_get_times_out_when_the_clock_reaches_the_timeout() -> None:
    clock = FakeClock(on_stall="raise")
    items: th.Queue[int] = th.Queue(clock)
    thread, result = in_thread(lambda: items.get(timeout=60), clock)
    clock.advance(59)
    assert result == []
    clock.advance(1)
    thread.join(WAIT)
    assert [type(r) for r in result] == [queue.Empty]


def test_get_wakes_with_the_item_a_put_hands_over() -> None:
    clock = FakeClock(on_stall="raise")
    items: th.Queue[str] = th.Queue(clock)
    thread, result = in_thread(lambda: items.get(timeout=60), clock)
    clock.advance(10)
    items.put("work")
    thread.join(WAIT)
    assert result == ["work"]
    assert clock.pending == []  # the timed wait left no deadline behind


def test_put_blocks_while_full_until_a_get_makes_room() -> None:
    clock = FakeClock(on_stall="raise")
    items: th.Queue[int] = th.Queue(clock, maxsize=1)
    items.put(1)
    thread, result = in_thread(lambda: items.put(2, timeout=30), clock)
    clock.advance(10)  # blocked in put, which is a clock wait: no stall
    assert result == [] and items.qsize() == 1
    assert items.get() == 1
    thread.join(WAIT)
    assert result == [None] and items.get_nowait() == 2


def test_put_times_out_with_full_on_the_clock() -> None:
    clock = FakeClock()
    items: th.Queue[int] = th.Queue(clock, maxsize=1)
    items.put(1)
    thread, result = in_thread(lambda: items.put(2, timeout=30), clock)
    clock.advance(30)
    thread.join(WAIT)
    assert [type(r) for r in result] == [queue.Full]
    assert items.qsize() == 1


def test_getters_are_served_in_arrival_order() -> None:
    clock = FakeClock()
    items: th.Queue[str] = th.Queue(clock)
    first, got_first = in_thread(items.get, clock)
    clock.advance(0)  # first is blocked before second arrives
    second, got_second = in_thread(items.get, clock)
    clock.advance(0)
    items.put("a")
    first.join(WAIT)
    items.put("b")
    second.join(WAIT)
    assert (got_first, got_second) == (["a"], ["b"])


def test_a_cancellation_token_ends_a_blocked_get_with_operation_canceled() -> None:
    clock = FakeClock()
    items: th.Queue[int] = th.Queue(clock)
    cts = th.CancellationTokenSource(clock)
    thread, result = in_thread(lambda: items.get(cancellation_token=cts.token), clock)
    clock.advance(0)
    cts.cancel()
    thread.join(WAIT)
    assert [type(r) for r in result] == [th.OperationCanceledError]
    items.put(1)  # the cancelled getter left the line: the item waits for the next get
    assert items.get_nowait() == 1
    with pytest.raises(th.OperationCanceledError):
        items.put(2, cancellation_token=cts.token)  # already cancelled: not added
    assert items.empty()


def test_join_waits_until_every_item_is_done() -> None:
    clock = FakeClock()
    items: th.Queue[int] = th.Queue(clock)
    items.put(1)
    items.put(2)
    thread, result = in_thread(items.join, clock)
    clock.advance(0)
    items.get()
    items.task_done()
    assert result == []
    items.get()
    items.task_done()
    thread.join(WAIT)
    assert result == [None]
    with pytest.raises(ValueError, match="task_done"):
        items.task_done()


class Producer(th.BackgroundService):
    """Puts the virtual time on the queue every 5 minutes."""

    def __init__(self, items: th.Queue[float], log: list[str]) -> None:
        self.items, self.log = items, log

    def execute(self, stopping_token: th.CancellationToken) -> None:
        while True:
            now = stopping_token.clock.monotonic()
            self.log.append(f"put {now:g}")
            self.items.put(now)
            if stopping_token.wait(300):
                return


class Consumer(th.BackgroundService):
    """Takes items off the queue until stopped."""

    def __init__(self, items: th.Queue[float], log: list[str]) -> None:
        self.items, self.log = items, log

    def execute(self, stopping_token: th.CancellationToken) -> None:
        while True:
            try:
                item = self.items.get(cancellation_token=stopping_token)
            except th.OperationCanceledError:
                return
            self.log.append(f"got {item:g} at {stopping_token.clock.monotonic():g}")


def hand_over_for_an_hour() -> list[str]:
    clock = FakeClock(autojump=True, on_stall="raise")
    items: th.Queue[float] = th.Queue(clock)
    log: list[str] = []
    host = make_builder(Consumer(items, log), Producer(items, log), clock=clock).build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    end = th.CancellationTokenSource(clock)
    end.token.register(lifetime.stop_application)
    with clock.hold():  # time stays at 0 until the end is set up
        host.start()
        end.cancel_after(3600 + 150)
    assert host.wait_for_shutdown()
    report = host.stop()
    host.close()
    assert report.clean and clock.stall_errors == []
    return log


def test_services_handing_work_through_a_queue_run_the_same_way_every_time() -> None:
    expected = [line for k in range(13)
                for line in (f"put {300 * k}", f"got {300 * k} at {300 * k}")]
    for _ in range(20):
        assert hand_over_for_an_hour() == expected
