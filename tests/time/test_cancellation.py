from __future__ import annotations

import threading

import pytest

import threadhost as th
from tests._services import WAIT


def test_cancel_runs_callbacks_once_in_reverse_registration_order() -> None:
    cts = th.CancellationTokenSource()
    calls: list[int] = []
    for i in range(3):
        cts.token.register(lambda i=i: calls.append(i))
    cts.cancel()
    cts.cancel()
    assert calls == [2, 1, 0]
    assert cts.token.is_cancellation_requested and cts.token.is_set()


def test_callbacks_run_on_the_cancelling_thread() -> None:
    cts = th.CancellationTokenSource()
    seen: list[threading.Thread] = []
    cts.token.register(lambda: seen.append(threading.current_thread()))
    canceller = threading.Thread(target=cts.cancel, name="canceller")
    canceller.start()
    canceller.join(WAIT)
    assert seen == [canceller]


def test_registering_on_a_cancelled_token_runs_the_callback_at_once() -> None:
    cts = th.CancellationTokenSource()
    cts.cancel()
    calls: list[str] = []
    registration = cts.token.register(lambda: calls.append("ran"))
    assert calls == ["ran"]
    assert registration.unregister() is False


def test_unregistered_callback_never_runs() -> None:
    cts = th.CancellationTokenSource()
    calls: list[str] = []
    registration = cts.token.register(lambda: calls.append("ran"))
    assert registration.unregister() is True
    assert registration.unregister() is False
    cts.cancel()
    assert calls == []


def test_failing_callback_does_not_stop_the_others_and_surfaces_as_exception_group() -> None:
    cts = th.CancellationTokenSource()
    calls: list[str] = []
    cts.token.register(lambda: calls.append("first"))
    cts.token.register(lambda: (_ for _ in ()).throw(KeyError("one")))
    cts.token.register(lambda: calls.append("middle"))
    cts.token.register(lambda: (_ for _ in ()).throw(ValueError("two")))
    with pytest.raises(ExceptionGroup) as info:
        cts.cancel()
    assert calls == ["middle", "first"]
    assert sorted(type(e).__name__ for e in info.value.exceptions) == ["KeyError", "ValueError"]
    assert cts.is_cancellation_requested


def test_linked_source_is_cancelled_when_any_parent_is() -> None:
    a, b = th.CancellationTokenSource(), th.CancellationTokenSource()
    with th.CancellationTokenSource.create_linked(a.token, b.token) as linked:
        assert not linked.is_cancellation_requested
        b.cancel()
        assert linked.token.is_cancellation_requested
        assert not a.is_cancellation_requested


def test_linked_source_of_an_already_cancelled_token_starts_cancelled() -> None:
    a = th.CancellationTokenSource()
    a.cancel()
    with th.CancellationTokenSource.create_linked(a.token) as linked:
        assert linked.is_cancellation_requested


def test_closed_linked_source_no_longer_follows_its_parents() -> None:
    a = th.CancellationTokenSource()
    linked = th.CancellationTokenSource.create_linked(a.token)
    linked.close()
    a.cancel()
    assert not linked.is_cancellation_requested


def test_cancel_after_cancels_once_the_delay_has_passed() -> None:
    cts = th.CancellationTokenSource()
    cts.cancel_after(0.05)
    assert cts.token.wait(WAIT) is True


def test_cancel_after_zero_cancels_now() -> None:
    cts = th.CancellationTokenSource()
    cts.cancel_after(0)
    assert cts.is_cancellation_requested


def test_cancel_after_rejects_a_negative_delay() -> None:
    with pytest.raises(ValueError, match=r"^cancel_after\(\) needs seconds >= 0, got -1$"):
        th.CancellationTokenSource().cancel_after(-1)


def test_wait_returns_false_on_timeout_and_true_once_cancelled() -> None:
    cts = th.CancellationTokenSource()
    assert cts.token.wait(0.01) is False
    threading.Thread(target=cts.cancel).start()
    assert cts.token.wait(WAIT) is True


def test_raise_if_cancellation_requested_carries_the_token() -> None:
    cts = th.CancellationTokenSource()
    cts.token.raise_if_cancellation_requested()
    cts.cancel()
    with pytest.raises(th.OperationCanceledError) as info:
        cts.token.raise_if_cancellation_requested()
    assert info.value.token is cts.token


def test_none_token_is_never_cancelled_and_stores_no_callbacks() -> None:
    token = th.CancellationToken.NONE
    assert not token.can_be_cancelled
    assert not token.is_cancellation_requested
    calls: list[str] = []
    assert token.register(lambda: calls.append("x")).unregister() is False
    assert token.wait(0) is False
    assert calls == []


def test_repr_shows_state() -> None:
    cts = th.CancellationTokenSource()
    assert repr(cts.token) == "<CancellationToken active>"
    cts.cancel()
    assert repr(cts.token) == "<CancellationToken cancelled>"
    assert repr(th.CancellationToken.NONE) == "<CancellationToken NONE>"


def test_concurrent_cancel_runs_each_callback_exactly_once() -> None:
    cts = th.CancellationTokenSource()
    count = 0
    lock = threading.Lock()

    def bump() -> None:
        nonlocal count
        with lock:
            count += 1

    for _ in range(50):
        cts.token.register(bump)
    threads = [threading.Thread(target=cts.cancel) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert count == 50


def test_a_base_exception_in_one_callback_does_not_stop_the_others() -> None:
    source = th.CancellationTokenSource()
    ran: list[str] = []
    source.token.register(lambda: ran.append("first registered"))

    def exits() -> None:
        raise SystemExit(3)

    source.token.register(exits)
    source.token.register(lambda: ran.append("last registered"))
    with pytest.raises(BaseExceptionGroup) as info:
        source.cancel()
    assert ran == ["last registered", "first registered"]
    assert [type(e) for e in info.value.exceptions] == [SystemExit]
