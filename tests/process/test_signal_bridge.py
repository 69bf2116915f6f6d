"""The signal bridge in process: handlers shared by hosts, the watcher's life, children."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading

import threadhost as th
from tests._services import WAIT, Waiter, stop_within


def console_host(*services: object) -> th.Host:
    builder = th.Host.create_application_builder([])
    builder.services.configure(th.ConsoleLifetimeOptions, suppress_status_messages=True)
    builder.logging.clear_providers()
    for service in services:
        builder.services.add_hosted_service(service)  # type: ignore[arg-type]
    return builder.build()


def watchers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "threadhost:signals"]


def test_two_hosts_stopped_in_either_order_leave_the_previous_handler_in_place() -> None:
    got = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.set())
    try:
        mine = signal.getsignal(signal.SIGTERM)
        for order in ("AB", "BA"):
            hosts = {"A": console_host(Waiter()), "B": console_host(Waiter())}
            hosts["A"].start()
            hosts["B"].start()
            for name in order:
                hosts[name].stop()
                hosts[name].close()
            assert signal.getsignal(signal.SIGTERM) is mine
            got.clear()
            os.kill(os.getpid(), signal.SIGTERM)
            assert got.wait(WAIT), "SIGTERM was swallowed"
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_watcher_ends_with_a_stop_made_by_another_thread() -> None:
    before = signal.getsignal(signal.SIGINT)  # default_int_handler; SIG_IGN under nohup
    host = console_host(Waiter())
    host.start()
    assert watchers() == ["threadhost:signals"]
    report = stop_within(host)  # stopped from a thread that is not the main thread
    assert report.clean and watchers() == []
    host.close()
    assert signal.getsignal(signal.SIGINT) is before


def test_a_failed_start_leaves_no_watcher_and_the_handlers_restored() -> None:
    class Fails(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            raise ValueError("no")

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            pass

    before = signal.getsignal(signal.SIGINT)
    host = console_host(Fails())
    with contextlib.suppress(th.HostStartupError):
        host.start()
    assert watchers() == []
    host.close()
    assert signal.getsignal(signal.SIGINT) is before


def test_a_child_started_from_a_service_thread_has_the_default_mask_and_terminates() -> None:
    outcome: list[tuple[str, int]] = []

    class StartsChild(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            child = subprocess.Popen(
                [sys.executable, "-c",
                 "import sys; print(open('/proc/self/status').read()); sys.stdout.flush(); "
                 "import threading; threading.Event().wait(60)"],
                stdout=subprocess.PIPE, text=True)
            assert child.stdout is not None
            status = child.stdout.readline()
            while not status.startswith("SigBlk:"):
                status = child.stdout.readline()
            child.terminate()
            outcome.append((status.split()[1], child.wait(WAIT)))
            stopping_token.wait()

    host = console_host(StartsChild())
    host.start()
    report = stop_within(host)
    host.close()
    assert report.clean
    assert outcome == [("0000000000000000", -signal.SIGTERM)]


def test_a_child_forked_after_start_has_the_signal_handling_of_before_the_host() -> None:
    # What the process had before the host (SIGINT is SIG_IGN in a job started with nohup).
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    host = console_host(Waiter())
    host.start()
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) != before
    try:
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if nothing of threadhost's is left
            ok = ((signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
                  and signal.set_wakeup_fd(-1) == -1)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        stop_within(host)
        host.close()
