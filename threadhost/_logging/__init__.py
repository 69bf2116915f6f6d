"""Logging setup: the host's one console handler and its formatters."""
