"""``pydoc`` renders every public module without configuring anything first."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests._subprocess import ROOT

# The management command is public too: the django-tasks page subclasses it. (Its app's
# models.py is not: like every Django models module, it needs settings to be imported.)
PUBLIC = ["threadhost", "threadhost.testing", "threadhost.contrib", "threadhost.contrib.django",
          "threadhost.contrib.postgres", "threadhost.contrib.django_tasks",
          "threadhost.contrib.django_tasks.management.commands.threadhost_tasks"]


@pytest.mark.parametrize("module", PUBLIC)
def test_pydoc_renders_the_public_module_in_a_fresh_interpreter(module: str) -> None:
    # A fresh process: no Django settings, no DJANGO_SETTINGS_MODULE.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pydoc", module], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and module in done.stdout
