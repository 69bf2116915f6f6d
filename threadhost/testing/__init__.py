"""Test support for threadhost: virtual time (``FakeClock``), ``run_host``, pytest fixtures."""

from __future__ import annotations

__all__: list[str] = []
