"""The package's layout: subpackages by concept, imported only downwards, with no circle.

Every import of a threadhost module is read from the source (``ast``), wherever it stands (at
module level or inside a function); imports under ``if TYPE_CHECKING:`` are left out, since
they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import threadhost

ROOT = Path(threadhost.__file__).parent

LEAVES = {"_errors", "_guarded_log", "_interrupt", "_log_messages", "_version"}
RANK = {
    "_time": 1,
    "_hosting": 2,
    "_services": 3, "_leases": 3, "_ops": 3, "_process": 3, "_config": 3, "_logging": 3,
    "_schedules": 3,
    "_building": 4,
    "testing": 5, "contrib": 5,
    "_cli": 6,
}
"""Each box may import the leaves, its own modules and boxes of a lower rank; boxes of one
rank may import each other as long as no circle forms."""


def box_of(module: str) -> str:
    """``threadhost._hosting.core`` -> ``_hosting``; a leaf module is its own box."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in LEAVES or parts[1] == "__main__":
        return "threadhost"
    return parts[1]


def rank_of(box: str) -> int:
    return 0 if box == "threadhost" else RANK[box]


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def runtime_imports(module: str, path: Path) -> Iterator[str]:
    """The threadhost modules ``module`` imports when it runs."""
    tree = ast.parse(path.read_text(), str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [stem] + [f"{stem}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if (name.startswith("threadhost.") and (
                    ROOT.parent / (name.replace(".", "/") + ".py")).exists()) or (
                    ROOT.parent / name.replace(".", "/") / "__init__.py").exists():
                yield name


def box_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in modules():
        if module == "threadhost" or box_of(module) in ("threadhost", "__main__"):
            continue  # the facade re-exports everything; __main__ is the entry point
        mine = box_of(module)
        for imported in runtime_imports(module, path):
            theirs = box_of(imported)
            if theirs not in (mine, "threadhost"):
                graph.setdefault(mine, set()).add(theirs)
    return graph


def test_each_box_imports_only_the_leaves_its_own_modules_and_lower_boxes() -> None:
    wrong = []
    for module, path in modules():
        mine = box_of(module)
        if module == "threadhost" or mine in ("threadhost", "__main__"):
            continue
        for imported in runtime_imports(module, path):
            theirs = box_of(imported)
            if theirs in (mine, "threadhost"):
                continue
            if rank_of(theirs) > rank_of(mine):
                wrong.append(f"{module} imports {imported} (rank {rank_of(theirs)} above "
                             f"{rank_of(mine)})")
    assert wrong == []


def test_the_kernel_imports_only_the_time_primitives_and_the_leaves() -> None:
    assert box_graph().get("_hosting", set()) <= {"_time"}


def test_no_circle_among_packages() -> None:
    graph = box_graph()
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(box: str, path: list[str]) -> None:
        seen[box] = 1
        for nxt in sorted(graph.get(box, ())):
            assert seen.get(nxt) != 1, "import circle: " + " -> ".join([*path, box, nxt])
            if nxt not in seen:
                visit(nxt, [*path, box])
        seen[box] = 2

    for box in sorted(graph):
        if box not in seen:
            visit(box, [])


def test_leaf_modules_import_no_other_threadhost_module() -> None:
    for module, path in modules():
        if module.split(".")[-1] in LEAVES and module.count(".") == 1:
            assert [m for m in runtime_imports(module, path)
                    if box_of(m) != "threadhost"] == [], module


MODULE_LINES = 410
"""Small modules, one concept each: about 400 lines at most (a little slack for a docstring)."""


def test_no_module_is_longer_than_about_400_lines() -> None:
    long = {module: n for module, path in modules()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES}
    assert long == {}, f"split these by concept: {long}"
