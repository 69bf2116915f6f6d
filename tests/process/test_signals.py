"""Signals, as supervisors send them, to real subprocesses: none lost, none doubled.

The rules (ConsoleLifetime): the first stop signal requests a graceful stop; a repeat within
0.5 s of it is the same request (``timeout`` signals the process, then its group); a later
SIGINT or SIGTERM during the stop ends the process with 130. Each scenario repeats, because
the defects it guards against were races.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from tests._services import WAIT
from tests._subprocess import ROOT, App
from threadhost._process.console_lifetime import REPEAT_WINDOW

LOOP = "tests/apps/signal_loop_app.py"
APP = "tests/apps/signal_app.py"


def test_a_hundred_single_sigterms_at_random_moments_each_stop_gracefully() -> None:
    rng = random.Random(8)
    with App(LOOP, "100", new_session=True) as app:
        for index in range(100):
            app.expect(f"ready {index}")
            threading.Event().wait(rng.uniform(0, 0.005))  # a random moment while it runs
            app.send(signal.SIGTERM)
            app.expect(f"cleanup {index}")
            assert app.expect(f"exit {index} ") == f"exit {index} 0", app.output()
        assert app.wait() == 0, app.output()


def test_a_sigterm_to_the_process_and_then_its_group_is_one_graceful_stop() -> None:
    # What GNU timeout and other supervisors do: two SIGTERMs microseconds apart.
    with App(LOOP, "20", new_session=True) as app:
        for index in range(20):
            app.expect(f"ready {index}")
            app.send(signal.SIGTERM)
            app.send_to_group(signal.SIGTERM)
            app.expect(f"cleanup {index}")
            assert app.expect(f"exit {index} ") == f"exit {index} 0", app.output()
        assert app.wait() == 0, app.output()


def test_gnu_timeout_stops_the_host_gracefully() -> None:
    # 5 s, not 1: the app must be up (its handlers installed) when timeout signals; on a
    # loaded machine (load average 8 on 2 cores) start-up once took longer than 1 s.
    timeout = subprocess.run(
        ["timeout", "-s", "TERM", "5", sys.executable, APP, "graceful"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True,
        timeout=WAIT * 3, check=False)
    assert timeout.returncode == 124, timeout  # timeout's own code: it had to signal
    assert "cleanup done" in timeout.stdout and "reason: signal SIGTERM" in timeout.stdout


def _second_sigint_exits_130() -> str | None:
    with App(APP, "straggler", "--HostOptions:ShutdownTimeout=30") as app:
        app.expect("ready")
        app.send(signal.SIGINT)
        app.expect("stopping")
        threading.Event().wait(REPEAT_WINDOW + 0.05)  # past the window: a second request
        app.send(signal.SIGINT)
        code = app.wait()
        if code != 130 or not any("threadhost:Straggler" in line for line in app.stderr):
            return f"exit {code}\n{app.output()}"
    return None


def test_twenty_second_sigints_during_a_long_stop_each_exit_130() -> None:
    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(lambda _: _second_sigint_exits_130(), range(20)) if f]
    assert not failures, failures[0]
