"""The documentation's code can't rot: every Python block of README.md and docs/pages runs.

A block with no ``<!-- setup: NAME -->`` comment runs as a module of its own and must show
its effect: an ``assert`` in the block, or the ```text block after it that it prints. A
``<!-- setup: pytest -->`` block is a test file of the page (its first line names it), run by
pytest as a user's would be, with the page's other such files beside it. Any other setup is
given by a test of its own (tests/test_docs_*.py, tests/contrib/test_docs_*.py), and the last
test here checks that every block is run by one of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._docs import PAGES, ROOT, Block, all_blocks, run

BLOCKS = all_blocks()
PLAIN = [b for b in BLOCKS if b.setup is None]
TEST_FILES = [b for b in BLOCKS if b.setup == "pytest" and (b.filename or "").startswith("test_")]
SETUP_TESTS = [*ROOT.glob("tests/test_docs_*.py"), *ROOT.glob("tests/contrib/test_docs_*.py")]


@pytest.mark.parametrize("block", PLAIN, ids=[b.where for b in PLAIN])
def test_the_block_runs_and_shows_its_effect(block: Block, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the content root: no appsettings.json of ours is read
    run(block)


@pytest.mark.parametrize("block", TEST_FILES, ids=[b.where for b in TEST_FILES])
def test_the_test_file_passes_under_pytest(block: Block, pytester: pytest.Pytester) -> None:
    page = block.where.split(":")[0]
    helpers = [b for b in BLOCKS if b.setup == "pytest" and b.where.startswith(f"{page}:")
               and not (b.filename or "").startswith("test_")]
    for helper in helpers:  # modules the test file imports (worker.py)
        pytester.makepyfile(**{Path(str(helper.filename)).stem: helper.code})
    pytester.makepyfile(**{Path(str(block.filename)).stem: block.code})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(re.findall(r"^def test_", block.code, re.M)))


def test_every_block_is_run_and_shows_its_effect() -> None:
    consumed = {name for path in SETUP_TESTS
                for name in re.findall(r'setup_blocks?\("([\w-]+)"\)', path.read_text())}
    problems = []
    for block in BLOCKS:
        if block.setup is None:
            if block.output is None and not re.search(r"^\s*assert ", block.code, re.M):
                problems.append(f"{block.where}: runs, but neither asserts nor is followed "
                                "by the ```text block it prints")
        elif block.setup == "pytest":
            if block.filename is None:
                problems.append(f"{block.where}: a pytest block must name its file on its "
                                "first line (# test_name.py)")
            elif (not block.filename.startswith("test_")
                  and not any(b.where.split(":")[0] == block.where.split(":")[0]
                              for b in TEST_FILES)):
                problems.append(f"{block.where}: a helper module with no test file beside it")
        elif block.setup not in consumed:
            problems.append(f"{block.where}: <!-- setup: {block.setup} --> is given by no "
                            "test (setup_block(...) in tests/test_docs_*.py)")
    for page in PAGES:
        text = page.read_text()
        declared = len(re.findall(r"<!-- setup: ", text))
        used = sum(1 for b in BLOCKS if b.setup and b.where.startswith(f"{page.name}:"))
        if declared != used:
            problems.append(f"{page.name}: {declared - used} <!-- setup: ... --> comment(s) "
                            "not right before a ```py block")
        for language in set(re.findall(r"^```(py\w+)$", text, re.M)) - {"python"}:
            problems.append(f"{page.name}: ```{language} is neither ```py nor ```python: "
                            "its code would not be run")
    assert not problems, "\n".join(problems)
    assert len(BLOCKS) >= 27  # the parser still finds the blocks (27 when this was written)
