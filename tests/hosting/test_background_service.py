"""BackgroundService on its own, outside a host: what its start and stop promise."""

from __future__ import annotations

import os
import threading

import pytest

import threadhost as th
from tests._services import WAIT
from threadhost._hosting import background_service


class Runs(th.BackgroundService):
    def __init__(self) -> None:
        self.ran = threading.Event()

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.ran.set()
        stopping_token.wait()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_child_forked_while_a_service_was_being_started_can_start_services() -> None:
    # Another thread of the parent is inside a service's start (holding the claim every start
    # takes) at the moment of the fork: the child must not inherit that lock held.
    with background_service._CLAIM:
        pid = os.fork()
        if pid == 0:  # the child: exit code 0 only if a service starts and runs in it
            code = 1
            try:
                service = Runs()
                starter = threading.Thread(
                    target=service.start, args=(th.CancellationToken.NONE,), daemon=True)
                starter.start()
                if service.ran.wait(WAIT):
                    service.stop(th.CancellationToken.NONE)
                    code = 0
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_service_started_outside_a_host_keeps_its_created_state_when_stopped() -> None:
    # Outside a host nobody keeps the account of its states: repr says it never left CREATED,
    # as before it ran (a host's services move through STARTING, RUNNING, STOPPED).
    service = Runs()
    service.start(th.CancellationToken.NONE)
    assert service.ran.wait(WAIT)
    service.stop(th.CancellationToken.NONE)
    assert service.thread is not None and not service.thread.is_alive()
    assert repr(service) == "<BackgroundService Runs created>"
