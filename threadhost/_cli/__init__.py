"""The command line (``python -m threadhost``), the demo application and the scaffold."""
