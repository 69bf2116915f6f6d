"""A throwaway PostgreSQL server for the tests and the lease benchmark.

``initdb`` into a temporary folder, ``pg_ctl start`` on a free loopback port (no Unix socket
outside that folder), ``pg_ctl stop`` and remove the folder at the end. PostgreSQL refuses to
run as root, so as root the binaries run as the ``postgres`` user (``runuser``) and the folder
is theirs. Trust authentication on 127.0.0.1 only: nothing but this machine can connect.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psycopg

T = TypeVar("T")

HOW_TO_GET = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found: install them (Debian/Ubuntu: "
    "apt-get install postgresql; they land in /usr/lib/postgresql/<version>/bin) or put their "
    "folder on PATH. Set THREADHOST_REQUIRE_POSTGRES=1 to make this a failure (CI does).")


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: ``pg_config --bindir``, PATH, then
    Debian's versioned folders (newest first); None if there is none."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                             check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(os.path.realpath(initdb)).parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                           key=lambda p: int(Path(p).parent.name)
                                           if Path(p).parent.name.isdigit() else 0,
                                           reverse=True)]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One throwaway server: ``start()``, ``conninfo``, ``connect()``, ``stop()``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="threadhost-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root, and PostgreSQL refuses to: a 'postgres' user is needed "
                    "to run the test server (apt-get install postgresql creates it)") from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def _run(self, *args: str) -> None:
        out = subprocess.run([*self._as, *args], capture_output=True, text=True, check=False,
                             stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n"
                               f"{out.stderr}\n{tail}")

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
        for attempt in range(5):  # a free port can be taken between the probe and the bind
            self.port = free_port()
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                       f"-c unix_socket_directories={self.root} -c fsync=off "
                       f"-c synchronous_commit=off -c full_page_writes=off "
                       f"-c max_connections=100")
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                          str(self.root / "server.log"), "-w", "-t", "60", "-o", options,
                          "start")
                return
            except RuntimeError:
                if attempt == 4:
                    raise

    def __enter__(self) -> PostgresServer:
        """Start the server (removed again if it fails to start); ``with`` stops it."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection for the tests' own queries."""
        return psycopg.connect(self.conninfo, autocommit=True, application_name="tests")

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def poll_until(condition: Callable[[], T | None], *, timeout: float, what: str,
               interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy (returned), or fail loudly
    naming ``what`` after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: a bounded pause between two polls
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not seen within {timeout}s")
        pause.wait(interval)
