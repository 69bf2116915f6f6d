"""The documentation's Python blocks, as the tests see them.

Every ```` ```py ```` or ```` ```python ```` block of README.md and docs/pages/*.md is a
``Block``. A block that needs context a page does not show (a Django project, a PostgreSQL
server, a host already started) declares it with an HTML comment on the line before it,
``<!-- setup: NAME -->``, which mkdocs renders as nothing; a test of its own gives that context
and asserts the block's effect (it takes the block with ``setup_block(NAME)``). A ```` ```text
```` block right after a Python block is what that block prints.

Chosen: markers in the page, read by the tests, so the page says which test runs which block
and a block cannot silently stop being run (tests/test_docs.py checks every block is).
Rejected: matching blocks by their first line (it breaks when an example is edited) and
running every fragment with stubbed names (it would prove nothing a reader cares about).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "pages").glob("*.md"))]
FENCE = re.compile(r"```(\w*)\n(.*?)^```\n?", re.M | re.S)
SETUP = re.compile(r"<!-- setup: ([\w-]+) -->\s*\Z")


@dataclass(frozen=True)
class Block:
    """One Python block: ``where`` is ``page.md:line``; ``output`` the ```text block after
    it (None if none); ``setup`` the name its ``<!-- setup: NAME -->`` comment gives."""

    where: str
    code: str
    setup: str | None
    output: str | None

    @property
    def filename(self) -> str | None:
        """The file name its first line gives (``# test_worker.py``), if any."""
        first = self.code.split("\n", 1)[0]
        match = re.match(r"# ([\w/]+\.py)\b", first)
        return match.group(1) if match else None


def read_blocks(page: Path) -> list[Block]:
    """The Python blocks of ``page``, in order."""
    text = page.read_text()
    fences = list(FENCE.finditer(text))
    found = []
    for index, fence in enumerate(fences):
        if fence.group(1) not in ("py", "python"):
            continue
        line = text.count("\n", 0, fence.start()) + 1
        setup = SETUP.search(text, 0, fence.start())
        following = fences[index + 1] if index + 1 < len(fences) else None
        output = None
        if (following is not None and following.group(1) == "text"
                and not text[fence.end():following.start()].strip()):
            output = following.group(2)
        found.append(Block(f"{page.name}:{line}", fence.group(2),
                           setup.group(1) if setup else None, output))
    return found


def all_blocks() -> list[Block]:
    """Every Python block of README.md and docs/pages, page by page."""
    return [block for page in PAGES for block in read_blocks(page)]


def setup_blocks(name: str) -> list[Block]:
    """The blocks whose pages declare ``<!-- setup: name -->`` (the same example on two
    pages); fails if there is none."""
    found = [block for block in all_blocks() if block.setup == name]
    assert found, f"no block has <!-- setup: {name} -->"
    return found


def setup_block(name: str) -> Block:
    """The one block whose page declares ``<!-- setup: name -->``; fails if not exactly one."""
    found = setup_blocks(name)
    assert len(found) == 1, f"expected one block with <!-- setup: {name} -->, found {found}"
    return found[0]


def block_before(block: Block) -> Block:
    """The Python block just before ``block`` on its page (the example it builds on)."""
    found = all_blocks()
    before = found[found.index(block) - 1]
    assert before.where.split(":")[0] == block.where.split(":")[0], f"{block.where} is first"
    return before


@contextlib.contextmanager
def as_module(where: str) -> Iterator[types.ModuleType]:
    """A module of its own for a block, as a file would be (a dataclass looks its module up
    in ``sys.modules``), with ``sys.argv`` as if the file were run with no arguments."""
    name = "docs_" + re.sub(r"\W", "_", where)
    module = types.ModuleType(name)
    module.__file__ = f"{name}.py"
    sys.modules[name] = module
    argv = sys.argv
    sys.argv = [module.__file__]
    try:
        yield module
    finally:
        sys.argv = argv
        del sys.modules[name]


def run(block: Block, names: Mapping[str, object] | None = None) -> types.ModuleType:
    """Execute ``block`` as a module holding ``names`` first (the setup's context); its
    output is compared with the ```text block after it, if the page has one. Returns the
    module, so a test can look at what the block made."""
    with as_module(block.where) as module:
        module.__dict__.update(names or {})
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(block.code, block.where, "exec"), module.__dict__)
    if block.output is not None:
        assert printed.getvalue() == block.output, (
            f"{block.where} printed:\n{printed.getvalue()}\nthe page says:\n{block.output}")
    return module
