"""Command-line keys that nothing read: most likely typos (``--shutdown-timout=3``).

A key in a section bound to options that matches no field is reported by the binder
(``binding._warn_unknown``). A command-line key outside every bound section has no such
check: .NET accepts it silently, so a typo'd option is simply ignored. Here the configuration
records what is read (keys looked up, sections listed or bound), and once the host has started
each command-line key that nothing read by then is a WARNING naming it, with the closest key
that was read or bound ("did you mean --HostOptions:ShutdownTimeout?").

Chosen: at ``application_started``, when the builder and every service's construction and
start have read what they read; a key first read later (on a service's own thread, after the
start) is reported although it is used, so the WARNING says "by the end of start". Only the
command line: the environment carries many variables that are not meant for the application.
Rejected: an error (a command line may carry arguments for the application's own parser).
"""

from __future__ import annotations

from threadhost._config.closest import closest, normalized
from threadhost._config.configuration import Configuration
from threadhost._config.json_source import fold_key


def unread_command_line_keys(config: Configuration) -> list[tuple[str, str, str | None]]:
    """Each command-line key (as written) that nothing read, its value, and the closest known
    key or None. Any thread; never blocks; never raises (a source that failed to load has
    none)."""
    root = config._root
    read, below = set(root._read), set(root._read_below)
    known = sorted(root._known)
    found: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()  # the command line may be a source twice (host and app settings)
    for source in root._sources:
        if source.name != "command line" or source.error is not None:
            continue
        for folded, entry in source.data.items():
            if folded in read or folded in seen or any(
                    folded.startswith(p) for p in below if p):
                continue
            seen.add(folded)
            found.append((entry.key, entry.value, _closest(entry.key, known)))
    return found


def _closest(key: str, known: list[str]) -> str | None:
    """The known key closest to ``key``, comparing whole keys and last segments alike."""
    candidates: dict[str, str] = {}
    for each in known:
        if fold_key(each) == fold_key(key):
            continue
        candidates.setdefault(normalized(each), each)
        candidates.setdefault(normalized(each.rpartition(":")[2]), each)
    return closest(key, candidates)
