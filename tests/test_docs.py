"""The documentation's code can't rot: every ```python block of a page runs; a ```py block
(a fragment to be read in its context: a project's settings.py, a task module) compiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
FRAGMENT = re.compile(r"^```py\n(.*?)^```", re.M | re.S)


def blocks(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for number, match in enumerate(pattern.finditer(page.read_text()), 1):
            found.append((f"{page.name}#{number}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), blocks(BLOCK), ids=[w for w, _ in blocks(BLOCK)])
def test_the_code_block_runs(where: str, code: str) -> None:
    exec(compile(code, where, "exec"), {"__name__": f"docs_{where}"})


@pytest.mark.parametrize(("where", "code"), blocks(FRAGMENT),
                         ids=[w for w, _ in blocks(FRAGMENT)])
def test_the_fragment_compiles(where: str, code: str) -> None:
    compile(code, where, "exec")
