"""Parsing command-line arguments into configuration pairs, as .NET's command-line provider."""

from __future__ import annotations

from collections.abc import Sequence

from threadhost._errors import ConfigurationError


def parse_command_line(args: Sequence[str]) -> list[tuple[str, str]]:
    """Turn ``args`` into ``(key, value)`` pairs, in order; later pairs win when applied.

    Forms: ``--Key=value``, ``--Key value``, ``/Key value`` (also ``/Key=value``) and
    ``Key=value``. After ``--Key`` or ``/Key`` the next argument is the value whatever it
    looks like (``-5``, ``/srv/app``), unless it starts with ``--``. Arguments of no form
    (a bare word) are skipped, as in .NET, so an application's own positional arguments do no
    harm. Raises ``ConfigurationError`` naming a ``--Key`` with no value, or an empty key.
    """
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg.startswith("--"):
            body = arg[2:]
        elif arg.startswith("/"):
            body = arg[1:]
        elif "=" in arg:
            key, _, value = arg.partition("=")
            pairs.append((_checked_key(key, arg), value))
            continue
        else:
            continue
        if "=" in body:
            key, _, value = body.partition("=")
            pairs.append((_checked_key(key, arg), value))
            continue
        _checked_key(body, arg)
        if i >= len(args) or args[i].startswith("--"):
            raise ConfigurationError(
                f"command line: {arg!r} has no value; write {arg}=VALUE or {arg} VALUE "
                "(every configuration key takes a value: a flag alone is none)")
        pairs.append((body, args[i]))
        i += 1
    return pairs


def _checked_key(key: str, arg: str) -> str:
    if not key.strip(":"):
        raise ConfigurationError(f"command line: {arg!r} has an empty key; write --Key=value")
    return key
