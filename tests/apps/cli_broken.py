"""A target whose own import fails: it needs a module whose name is a prefix of its own."""

import tests.apps.cli  # noqa: F401  (does not exist: the application's bug, not a bad target)

builder = None
