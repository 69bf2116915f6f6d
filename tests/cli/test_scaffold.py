"""``threadhost new worker NAME``: the project it writes passes its own tests at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests._services import WAIT
from tests._subprocess import App


def test_new_worker_writes_a_project_whose_own_tests_pass(tmp_path: Path) -> None:
    with App("-m", "threadhost", "new", "worker", "demoapp", "--output", str(tmp_path)) as app:
        assert app.wait() == 0, app.output()
    project = tmp_path / "demoapp"
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == [
        "README.md", "appsettings.Development.json", "appsettings.json", "demoapp.service",
        "demoapp/__init__.py", "demoapp/__main__.py", "demoapp/app.py", "pyproject.toml",
        "tests/test_app.py"]
    # Its own test command, in its own folder, as a new user would run it.
    result = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=project,
                            capture_output=True, text=True, timeout=WAIT * 6, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    # A typo in a value is one line naming the key and its source, exit 2, no traceback.
    with App("-m", "demoapp", "--Worker:PollInterval=often", cwd=project) as app:
        assert app.wait() == 2, app.output()
    assert len(app.stderr) == 1, app.output()
    assert "Worker:PollInterval" in app.stderr[0] and "'often'" in app.stderr[0]
    assert app.stderr[0].startswith("demoapp: error: "), app.stderr
    # A value the options dataclass refuses (its __post_init__) is the same: one line naming
    # the key, its value and its source, exit 2.
    with App("-m", "demoapp", "--Worker:PollInterval=-1", cwd=project) as app:
        assert app.wait() == 2, app.output()
    assert app.stderr == [
        "demoapp: error: Worker:PollInterval='-1' is invalid: poll_interval must be a number of "
        "seconds > 0, got -1.0 (set in command line Worker:PollInterval)"], app.output()


def test_new_refuses_a_bad_name_and_a_folder_in_use(tmp_path: Path) -> None:
    with App("-m", "threadhost", "new", "worker", "my-app", "--output", str(tmp_path)) as app:
        assert app.wait() == 2
    assert app.stderr == ["threadhost new: error: NAME 'my-app' is not a Python package name; "
                          "use letters, digits and underscores, e.g. order_mailer"]
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("mine")
    with App("-m", "threadhost", "new", "worker", "taken", "--output", str(tmp_path)) as app:
        assert app.wait() == 2
    assert "already exists and is not empty" in app.stderr[0]
