"""Running a Python program as a real subprocess and reading its output line by line."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from tests._services import WAIT

ROOT = Path(__file__).resolve().parent.parent


class App:
    """A subprocess whose stdout lines can be awaited (with a timeout that fails loudly)."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None, merge_stderr: bool = False,
                 new_session: bool = False) -> None:
        """Start ``python *args``; with ``merge_stderr`` its logs are awaitable lines too;
        with ``new_session`` it leads a process group of its own (``send_to_group``)."""
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                    **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True, env=full_env, cwd=cwd or ROOT,
            start_new_session=new_session)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        assert self.proc.stdout is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True)]
        if self.proc.stderr is not None:
            self._readers.append(
                threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True))
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, is_stdout: bool) -> None:
        for raw in stream:  # type: ignore[attr-defined]
            line = raw.rstrip("\n")
            (self.stdout if is_stdout else self.stderr).append(line)
            if is_stdout:
                self._lines.put(line)
        if is_stdout:
            self._lines.put(None)

    def expect(self, text: str, timeout: float = WAIT) -> str:
        """Wait for a stdout line containing ``text``; fail with all output otherwise."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} within {timeout}s\n"
                                     f"{self.output()}") from None
            if line is None:
                raise AssertionError(f"exited before printing {text!r}\n{self.output()}")
            if text in line:
                return line

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def send_to_group(self, sig: signal.Signals) -> None:
        """Signal the process group it leads (started with ``new_session=True``)."""
        os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float = WAIT) -> int:
        """Wait for the exit code, then for the output readers."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"did not exit within {timeout}s\n{self.output()}") from None
        for reader in self._readers:
            reader.join(timeout)
        return code

    def output(self) -> str:
        return ("--- stdout\n" + "\n".join(self.stdout) + "\n--- stderr\n"
                + "\n".join(self.stderr))

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()
