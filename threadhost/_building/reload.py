"""Reload on change: watch JSON files added with ``reload_on_change=True``.

``ConfigurationWatcher`` is a hosted service the builder adds only when some file is watched.
Its thread polls every ``POLL_INTERVAL`` seconds on the host's clock (so a test moves it with
``FakeClock.advance``) and hands the work to ``Reloader.poll``:

1. read each watched file; skip it if its bytes did not change since the last poll;
2. parse the changed ones; a file that does not parse is logged at ERROR (file:line:col) and
   left as it was;
3. swap the new content in, then rebuild every configured options value and the log levels;
   if one of them fails (a value that does not bind), log it at ERROR naming the key, value
   and file, and swap the old content back: the last good configuration stays whole;
4. re-apply the ``Logging:LogLevel`` levels and hand each changed options value to its
   ``OptionsMonitor`` (whose callbacks run here, on the watcher thread).

Chosen: polling with a content comparison, on the host's clock. Rejected: inotify or
``watchdog`` (a new runtime dependency, and not portable); comparing only mtime and size (two
edits within the file system's timestamp granularity look unchanged); real-time timers
(tests could not drive them with the fake clock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, final

from threadhost import _log_messages as log
from threadhost._config.configuration import Configuration, _Source
from threadhost._config.json_source import Data
from threadhost._errors import ConfigurationError
from threadhost._hosting.background_service import BackgroundService
from threadhost._hosting.options import OptionsMonitor
from threadhost._logging.console import AppliedLogging
from threadhost._time.cancellation import CancellationToken

POLL_INTERVAL = 1.0
"""Seconds, on the host's clock, between two looks at the watched files."""


@final
class Reloader:
    """Applies changes of the watched files (see the module notes). Watcher thread only."""

    def __init__(self, configuration: Configuration,
                 rebuild: Callable[[type], Any],
                 monitors: dict[type, OptionsMonitor[Any]],
                 logging: AppliedLogging) -> None:
        self._configuration = configuration
        self._rebuild = rebuild
        self._monitors = monitors
        self._logging = logging

    def poll(self) -> bool:
        """Look at the watched files once; True if a change was applied."""
        changed: list[tuple[_Source, Data]] = []
        for source in self._configuration._watched():
            try:
                raw, data = _read_if_changed(source)
            except ConfigurationError as exc:
                log.configuration_reload_failed(str(exc))
                continue
            if raw is not None:
                changed.append((source, data))
        if not changed:
            return False
        previous = [(source, source.data) for source, _ in changed]
        for source, data in changed:
            source.data = data
        try:
            values = {t: self._rebuild(t) for t in self._monitors}
            self._logging.reload()
        except ConfigurationError as exc:
            for source, data in previous:
                source.data = data
            log.configuration_reload_failed(str(exc))
            return False
        for source, _ in changed:
            log.configuration_reloaded(source.name)
        for options_type, value in values.items():
            monitor = self._monitors[options_type]
            if value != monitor.current_value:
                monitor._update(value)
        return True


def _read_if_changed(source: _Source) -> tuple[bytes | None, Data]:
    """(None, {}) if the file's bytes are as last seen; else its bytes and content. A file
    that does not parse is remembered as seen, so its error is logged once per edit."""
    assert source.path is not None
    try:
        with open(source.path, "rb") as f:
            raw: bytes | None = f.read()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        raise ConfigurationError(f"{source.path}: cannot be read: {exc}") from None
    if raw == source.fingerprint:
        return None, {}
    source.fingerprint = raw
    if raw is None and not source.optional:
        raise ConfigurationError(
            f"{source.path}: the watched configuration file was removed; the last good "
            "content stays")
    if raw is None:
        return b"", {}  # an optional file was removed: its keys are gone
    return raw, source.parse(raw)


@final
class ConfigurationWatcher(BackgroundService):
    """Polls the watched configuration files on the host's clock; see the module notes."""

    def __init__(self, reloader: Reloader) -> None:
        self._reloader = reloader

    def execute(self, stopping_token: CancellationToken) -> None:
        while not stopping_token.wait(POLL_INTERVAL):
            self._reloader.poll()
