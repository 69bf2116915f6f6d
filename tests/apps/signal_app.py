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


class Worker(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        print("cleanup done", flush=True)


class Straggler(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        threading.Event().wait()  # ignores its token: the host must abandon it


def _previous_handler(signum: int, frame: object) -> None:
    print("previous handler ran", flush=True)


def main() -> int:
    mode, args = sys.argv[1], sys.argv[2:]
    signal.signal(signal.SIGTERM, _previous_handler)
    builder = th.Host.create_application_builder(args)
    builder.services.add_hosted_service(Worker)
    if mode == "straggler":
        builder.services.add_hosted_service(Straggler)
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.application_started.register(lambda: print("ready", flush=True))
    lifetime.application_stopping.register(lambda: print("stopping", flush=True))
    code = host.run()
    assert host.report is not None
    print(f"reason: {host.report.reason}", flush=True)
    restored = signal.getsignal(signal.SIGTERM) is _previous_handler
    print(f"handlers restored: {restored}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
