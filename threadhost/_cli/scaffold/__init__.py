"""``threadhost new worker NAME``: write a runnable project skeleton.

The template is a folder of ``*.tmpl`` files next to this module (so linters and pytest do
not read them as code); ``{{name}}`` and ``{{version}}`` are replaced, a path segment
``__name__`` becomes NAME, and ``.tmpl`` is dropped. The project's own tests pass right after
creation (the suite checks it). Chosen: plain token replacement. Rejected: cookiecutter or
Jinja (a dependency for nine small files) and ``str.format`` (JSON and Python braces would
all need doubling).
"""

from __future__ import annotations

import keyword
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from threadhost._version import __version__

TEMPLATES = ("worker",)


def _files(folder: Traversable, relative: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...],
                                                                              str]]:
    found: list[tuple[tuple[str, ...], str]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            found += _files(entry, (*relative, entry.name))
        elif entry.name.endswith(".tmpl"):
            found.append(((*relative, entry.name.removesuffix(".tmpl")), entry.read_text()))
    return found


def write_project(template: str, name: str, output: str = ".") -> Path:
    """Write the ``template`` project called ``name`` into ``output/name``; its path.

    Runs on the calling thread and writes files only. Raises ValueError (a ConfigurationError
    is not apt: nothing is configured) for an unknown template or a NAME that is not a
    Python package name, and FileExistsError if ``output/name`` exists and is not empty.
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; expected one of {', '.join(TEMPLATES)}")
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        raise ValueError(f"NAME {name!r} is not a Python package name; use letters, digits "
                         "and underscores, e.g. order_mailer")
    root = Path(output).resolve() / name
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} already exists and is not empty; choose another NAME "
                              "or --output")
    folder = resources.files(__package__ or "threadhost._cli.scaffold").joinpath("template")
    for parts, text in _files(folder):
        path = root.joinpath(*(name if p == "__name__" else p.replace("__name__", name)
                               for p in parts))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{{name}}", name).replace("{{version}}", __version__))
    return root
