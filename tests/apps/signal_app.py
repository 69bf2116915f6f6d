"""A host the signal tests run as a real subprocess.

Usage: signal_app.py MODE [config args...], MODE is ``graceful`` (one well-behaved worker) or
``straggler`` (plus a worker that ignores its token). Prints ``ready`` once started,
``stopping`` when the stop begins, ``cleanup done`` from the worker, and after ``run()``
returns the stop reason and whether the previous SIGTERM handler is back.
"""

from __future__ import annotations

import signal
import sys
import threading

import threadhost as th


def say(line: str) -> None:
    """Print ``line`` in one write: print() writes the text and the newline separately, so
    lines from two threads could interleave ("stoppingcleanup done")."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Worker(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        say("cleanup done")


class Straggler(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        threading.Event().wait()  # ignores its token: the host must abandon it


def _previous_handler(signum: int, frame: object) -> None:
    say("previous handler ran")


def main() -> int:
    mode, args = sys.argv[1], sys.argv[2:]
    signal.signal(signal.SIGTERM, _previous_handler)
    builder = th.Host.create_application_builder(args)
    builder.services.add_hosted_service(Worker)
    if mode == "straggler":
        builder.services.add_hosted_service(Straggler)
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.application_started.register(lambda: say("ready"))
    lifetime.application_stopping.register(lambda: say("stopping"))
    code = host.run()
    assert host.report is not None
    say(f"reason: {host.report.reason}")
    restored = signal.getsignal(signal.SIGTERM) is _previous_handler
    say(f"handlers restored: {restored}")
    return code


if __name__ == "__main__":
    sys.exit(main())
