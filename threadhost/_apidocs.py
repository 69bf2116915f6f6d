"""Build the API reference from the docstrings: ``python -m threadhost._apidocs OUTDIR``.

It runs pdoc (the ``test`` extra) on ``threadhost`` and ``threadhost.testing`` and exits 1,
listing them, if pdoc warned about anything: CI builds it into a temporary folder so a broken
docstring or annotation fails the build; the HTML is not committed.

``threadhost/__init__.py`` rewrites each public object's ``__module__`` to ``threadhost`` (so
tracebacks say ``threadhost.Host``); pdoc would then resolve their annotations in the wrong
namespace. For the build only, each object gets back the module that defines it.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path


def build(output: Path) -> list[str]:
    """Write the HTML reference into ``output``; the warnings pdoc gave (empty if none)."""
    import pdoc  # noqa: PLC0415  (a docs-only dependency)

    import threadhost  # noqa: PLC0415

    for name, module in threadhost._DEFINED_IN.items():
        getattr(threadhost, name).__module__ = module
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pdoc.pdoc("threadhost", "threadhost.testing", "threadhost.contrib.django",
                      output_directory=output)
    finally:
        for name in threadhost._DEFINED_IN:
            getattr(threadhost, name).__module__ = "threadhost"
    return [str(w.message) for w in caught]


def main(argv: list[str]) -> int:
    """Build into ``argv[0]`` (default: a new temporary folder); 0 if pdoc gave no warning."""
    output = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="threadhost-docs-"))
    problems = build(output)
    for problem in problems:
        print(f"api docs: warning: {problem}", file=sys.stderr)
    print(f"API reference written to {output / 'index.html'}"
          + (f" with {len(problems)} warning(s)" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
