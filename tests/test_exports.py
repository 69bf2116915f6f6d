from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import threadhost
import threadhost.testing
from tests._subprocess import ROOT


def test_all_is_sorted_and_names_every_public_export() -> None:
    public = {n for n in dir(threadhost) if not n.startswith("_")
              and not isinstance(getattr(threadhost, n), type(threadhost))}
    public -= {"annotations"}
    assert threadhost.__all__ == sorted(threadhost.__all__)
    assert set(threadhost.__all__) == public


def test_public_classes_report_the_package_as_their_module() -> None:
    for name in threadhost.__all__:
        obj = getattr(threadhost, name)
        if isinstance(obj, type):
            assert obj.__module__ == "threadhost", name


def test_testing_module_exports_are_sorted_and_report_their_module() -> None:
    assert threadhost.testing.__all__ == sorted(threadhost.testing.__all__)
    for name in threadhost.testing.__all__:
        assert getattr(threadhost.testing, name).__module__ == "threadhost.testing", name


# Imported on first use (see each import's comment): systemd's socket, python-json-logger for
# the JSON log format, the modules of the types only some options fields have, restart jitter.
LAZY = {"decimal", "json", "pathlib", "pythonjsonlogger", "random", "socket"}
_IMPORT_AND_RUN = """
import sys
before = set(sys.modules)
import threadhost
print(sorted((set(sys.modules) - before) & set(LAZY)))
host = threadhost.Host.create_application_builder([]).build()
host.start()
print(host.stop().clean, sorted((set(sys.modules) - before) & set(LAZY)))
"""


def test_import_and_a_plain_host_leave_the_modules_of_optional_paths_unimported(
        tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"LAZY = {sorted(LAZY)!r}{_IMPORT_AND_RUN}"], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=30, check=True)
    assert result.stdout.splitlines() == ["[]", "True []"]
