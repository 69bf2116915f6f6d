"""``python -m threadhost``: the command line (see ``threadhost._cli``)."""

from threadhost._cli import main

raise SystemExit(main())
