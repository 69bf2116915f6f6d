"""The time primitives: the ``Clock`` (the only code that touches real time), cancellation
tokens, and the clock-aware ``Event``/``Queue``. Imports nothing of threadhost but the leaf
modules (``_errors``, ``_log_messages``)."""
