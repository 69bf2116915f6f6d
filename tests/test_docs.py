"""The documentation's code can't rot: every ```python block of a page runs; a ```py block
(a fragment to be read in its context: a project's settings.py, a task module) compiles. The
testing page's test files run under pytest in tests/testing/test_plugin.py."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "pages").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
FRAGMENT = re.compile(r"^```py\n(.*?)^```", re.M | re.S)


def blocks(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for number, match in enumerate(pattern.finditer(page.read_text()), 1):
            found.append((f"{page.name}#{number}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), blocks(BLOCK), ids=[w for w, _ in blocks(BLOCK)])
def test_the_code_block_runs(where: str, code: str) -> None:
    # A module of its own, as a file would be (a dataclass looks its module up).
    module = types.ModuleType(f"docs_{where.replace('.', '_').replace('#', '_')}")
    sys.modules[module.__name__] = module
    try:
        exec(compile(code, where, "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]


@pytest.mark.parametrize(("where", "code"), blocks(FRAGMENT),
                         ids=[w for w, _ in blocks(FRAGMENT)])
def test_the_fragment_compiles(where: str, code: str) -> None:
    compile(code, where, "exec")
