"""``python -m threadhost``: the command line (see ``threadhost._cli.main``)."""

from threadhost._cli.main import main

raise SystemExit(main())
