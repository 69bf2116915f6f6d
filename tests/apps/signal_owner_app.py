"""Signals with an owner, tried in a real process. One mode per run (the first argument):

* ``leftover``: a SIGTERM that reached the previous handler between two hosts must not stop
  the next host (a SIGINT sent after it is what stops it);
* ``fork``: children forked while the host runs are sent SIGTERM at once, in every window after
  the fork: each child dies of it, and the parent's host never hears it;
* ``mpfork``: the same with multiprocessing's fork context and ``terminate()``;
* ``together``: two SIGTERMs at once stop the host once; a later SIGTERM, once the host no
  longer listens, still reaches the previous handler;
* ``sequence``: hosts one after another on the main thread, each stopped by a signal, never
  hang.

Prints ``OK ...`` lines the test reads; exits 0.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading

import threadhost as th

WAIT = 10.0


class Idle(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()


def build() -> th.Host:
    builder = th.Host.create_application_builder(["--HostOptions:ExitOnStop=false"])
    builder.services.configure(th.ConsoleLifetimeOptions, suppress_status_messages=True)
    builder.logging.clear_providers()
    builder.services.add_hosted_service(Idle)
    return builder.build()


def reason_after_marker(host: th.Host) -> str:
    """Send SIGINT to ourselves and return the reason the host stopped for: a signal left
    over (or stolen from a child) before the marker would be the reason instead."""
    os.kill(os.getpid(), signal.SIGINT)
    assert host.wait_for_shutdown(WAIT), "the host never stopped"
    report = host.report
    assert report is not None
    return report.reason


def previous_handler() -> threading.Event:
    got = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: got.set())
    return got


def leftover() -> None:
    got = previous_handler()
    first = build()
    first.start()
    stopper = threading.Thread(target=first.stop)  # off the main thread: handlers stay
    stopper.start()
    stopper.join(WAIT)
    os.kill(os.getpid(), signal.SIGTERM)  # no host listens: the previous handler has it
    assert got.wait(WAIT), "the previous handler never got the SIGTERM"
    second = build()
    second.start()
    print(f"OK second stopped for: {reason_after_marker(second)}", flush=True)
    second.close()
    first.close()


def _child() -> None:
    threading.Event().wait(WAIT)  # a SIGTERM with default handling ends it first
    os._exit(7)


def fork(rounds: int) -> None:
    host = build()
    host.start()
    killed = 0
    for _ in range(rounds):
        pid = os.fork()
        if pid == 0:
            _child()
        os.kill(pid, signal.SIGTERM)  # at once: in whatever window of the fork the child is
        _, status = os.waitpid(pid, 0)
        killed += os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    print(f"OK children killed by SIGTERM: {killed}/{rounds}", flush=True)
    print(f"OK host stopped for: {reason_after_marker(host)}", flush=True)
    host.close()


def mpfork(rounds: int) -> None:
    context = multiprocessing.get_context("fork")
    host = build()
    host.start()
    killed = 0
    for _ in range(rounds):
        process = context.Process(target=_child)
        process.start()
        process.terminate()
        process.join(WAIT)
        killed += process.exitcode == -signal.SIGTERM
    print(f"OK children killed by SIGTERM: {killed}/{rounds}", flush=True)
    print(f"OK host stopped for: {reason_after_marker(host)}", flush=True)
    host.close()


def together() -> None:
    got = previous_handler()
    host = build()
    host.start()

    def both() -> None:  # from another thread, while the main thread waits: one handler call
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=both).start()
    assert host.wait_for_shutdown(WAIT), "the host never stopped"
    report = host.report
    assert report is not None
    print(f"OK stopped for: {report.reason}", flush=True)
    got.clear()
    os.kill(os.getpid(), signal.SIGTERM)  # the host no longer listens: the previous handler
    print(f"OK later SIGTERM reached the previous handler: {got.wait(WAIT)}", flush=True)
    host.close()


def sequence(rounds: int) -> None:
    for _ in range(rounds):
        host = build()
        host.start()
        os.kill(os.getpid(), signal.SIGTERM)
        assert host.wait_for_shutdown(WAIT), "a host never stopped"
        host.close()
    print(f"OK {rounds} hosts in sequence", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    {"leftover": leftover, "together": together}.get(mode, lambda: None)()
    if mode == "fork":
        fork(rounds)
    elif mode == "mpfork":
        mpfork(rounds)
    elif mode == "sequence":
        sequence(rounds)
    sys.exit(0)
