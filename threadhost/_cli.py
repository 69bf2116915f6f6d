"""The ``threadhost`` command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m threadhost`` and the ``threadhost`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["demo"]:
        print("threadhost is installed. The demo application arrives with the integrations "
              "(issue 5); until then, see README.md.")
        return 0
    print("usage: threadhost demo", file=sys.stderr)
    return 2
