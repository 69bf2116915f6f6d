"""Stop signals are blocked in every thread threadhost starts, so they reach the main thread."""

from __future__ import annotations

import signal
import threading

import threadhost as th
from tests._services import WAIT, make_builder

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT}


def current_mask() -> set[signal.Signals]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_service_threads_and_their_children_block_stop_signals_main_thread_does_not() -> None:
    masks: dict[str, set[signal.Signals]] = {}
    seen = threading.Event()

    class ReadsMask(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            masks["service"] = current_mask()
            child = threading.Thread(target=lambda: masks.update(child=current_mask()))
            child.start()
            child.join(WAIT)
            seen.set()
            stopping_token.wait()

    before = current_mask()
    with make_builder(ReadsMask()).build():
        assert seen.wait(WAIT)
        assert current_mask() == before
    assert masks["service"] >= STOP_SIGNALS
    assert masks["child"] >= STOP_SIGNALS
    assert not STOP_SIGNALS & before
