"""Parsing command-line arguments into configuration pairs, as .NET's command-line provider.

A ``--Key`` with no value is an error. When it is close to a known option (a host setting
such as ``--environment``, or the options of ``threadhost run``: ``--systm`` for
``--systemd``) it is most likely a typo'd flag, and the error says "unknown option --systm;
did you mean --systemd?" rather than asking for a value it was never meant to have.
"""

from __future__ import annotations

from collections.abc import Sequence

from threadhost._config.closest import closest, normalized
from threadhost._errors import ConfigurationError

HOST_SETTINGS = ("environment", "applicationName", "contentRoot", "shutdownTimeoutSeconds")
"""The host settings a builder reads when it is created (keys of the configuration)."""

HOST_SETTING_OPTIONS = tuple(f"--{key}" for key in HOST_SETTINGS)


def parse_command_line(args: Sequence[str], known_options: Sequence[str] = HOST_SETTING_OPTIONS
                       ) -> list[tuple[str, str]]:
    """Turn ``args`` into ``(key, value)`` pairs, in order; later pairs win when applied.

    Forms: ``--Key=value``, ``--Key value``, ``/Key value`` (also ``/Key=value``) and
    ``Key=value``. After ``--Key`` or ``/Key`` the next argument is the value whatever it
    looks like (``-5``, ``/srv/app``), unless it starts with ``--``. Arguments of no form
    (a bare word) are skipped, as in .NET, so an application's own positional arguments do no
    harm. Raises ``ConfigurationError`` naming a ``--Key`` with no value (as an unknown
    option, with the closest of ``known_options``, when one is close), or an empty key.
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
            close = closest_option(arg, known_options)
            if close is not None:
                raise ConfigurationError(
                    f"command line: unknown option {arg}; did you mean {close}?")
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


def closest_option(arg: str, known_options: Sequence[str]) -> str | None:
    """The option of ``known_options`` closest to ``arg`` (``--systm``, ``--shutdown-timout``;
    case, ``-`` and ``_`` ignored), or None if none is close or ``arg`` is one of them. Any
    thread; pure."""
    name = arg.partition("=")[0]
    candidates = {normalized(option): option for option in known_options}
    return None if normalized(name) in candidates else closest(name, candidates)
