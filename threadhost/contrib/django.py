"""Django integration: run a threadhost host from a management command.

Subclass ``HostCommand`` and implement ``configure_host``::

    # myapp/management/commands/runworkers.py
    from threadhost.contrib.django import HostCommand, close_old_connections

    class Command(HostCommand):
        help = "Runs the background workers."

        def configure_host(self, builder):
            builder.services.add_hosted_service(EmailSender)

Then ``python manage.py runworkers --Workers:BatchSize=50`` runs the host until Ctrl+C or
SIGTERM and exits with its exit code. Configuration, later wins: ``settings.THREADHOST`` (a
dict, nested sections allowed), the usual threadhost sources (``appsettings.json`` in the
content root, environment variables), then the command's own arguments (``--Key=value``,
``Key=value``).

A configuration error (a bad value, a malformed ``appsettings.json``, ``--Key`` with no value,
``settings.THREADHOST`` that is not a dict) is a one-line ``CommandError`` with exit code 2,
not a traceback; a hosted service that cannot be constructed is one line with exit code 1,
as from every other entry point (the traceback is logged at DEBUG).

Logging: when Django's ``LOGGING`` put a handler on the root logger, the host adds none of its
own and sets no level that ``Logging:LogLevel`` does not ask for, so each line is written
once, in the project's format.

Django keeps one database connection per thread. Every service thread of the host (each
BackgroundService thread and queue worker) closes its connections when it ends, so none is
left open; a long-running loop should also call ``close_old_connections()`` each iteration,
as Django's request cycle does, to drop connections that broke or outlived ``CONN_MAX_AGE``.
"""

from __future__ import annotations

import sys
import traceback
from argparse import Namespace
from collections.abc import Sequence
from typing import Any

import django.conf
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections as _close_old_connections
from django.db import connections

from threadhost._building.builder import HostApplicationBuilder
from threadhost._building.failure import failure_of
from threadhost._building.host import Host
from threadhost._errors import ConfigurationError
from threadhost._log_messages import build_failure_logged

__all__ = ["HostCommand", "close_old_connections"]


def close_old_connections() -> None:
    """Close this thread's Django database connections that are unusable or past
    ``CONN_MAX_AGE``; call it at the top of each iteration of a long-running loop.

    Runs on the calling thread and touches only its connections (Django's are per thread).
    """
    _close_old_connections()


def close_thread_connections() -> None:
    """Close every Django database connection of the calling thread (a thread-exit hook)."""
    connections.close_all()


class HostCommand(BaseCommand):  # type: ignore[misc]  # Django ships no type hints
    """A management command that builds and runs a threadhost host.

    ``handle()`` runs on the command's thread (the main thread under ``manage.py``, so Ctrl+C
    and SIGTERM stop the host gracefully): it builds the host with ``configure_host``, runs it,
    and exits with its exit code (returning normally for 0, raising ``SystemExit`` otherwise).
    """

    help = "Runs a threadhost host until Ctrl+C or SIGTERM."

    def configure_host(self, builder: HostApplicationBuilder) -> None:
        """Register the services (and options) of the host; called once by ``handle()``."""
        raise NotImplementedError(
            f"{type(self).__module__}.{type(self).__name__} must implement "
            "configure_host(self, builder) to register its services.")

    def add_arguments(self, parser: CommandParser) -> None:
        """Accept ``Key=value`` words as host configuration (``--Key=value`` too, see
        ``create_parser``)."""
        parser.add_argument("host_args", nargs="*", metavar="Key=value",
                            help="configuration for the host: --Key=value or Key=value")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """Django's parser, except that options it does not know become ``host_args``."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        own_parse_args = parser.parse_args

        def parse_args(args: Sequence[str] | None = None,
                       namespace: Namespace | None = None) -> Namespace:
            # Every word that is not one of the command's own options is the host's command
            # line, kept in its order: argparse's parse_known_args would split "--Key value"
            # (the option to the unknown list, the value to the positionals).
            own, host = _split_own_options(parser, sys.argv[2:] if args is None else args)
            known: Namespace = own_parse_args(own, namespace)
            known.host_args = host
            return known

        parser.parse_args = parse_args
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        """Django's, except that with ``--traceback`` a ``CommandError`` still ends the
        process with its own exit code (2 for a configuration error), its traceback printed:
        Django re-raises it, and an uncaught exception would exit 1."""
        try:
            super().run_from_argv(argv)
        except CommandError as exc:  # reached only with --traceback: Django writes it else
            self.stderr.write(traceback.format_exc())
            sys.exit(exc.returncode)

    def build_host(self, host_args: Sequence[str]) -> Host:
        """The host: settings.THREADHOST, default sources, ``host_args``; configure_host.

        Raises ConfigurationError for invalid configuration (``handle()`` turns it into a
        CommandError).
        """
        builder = Host.create_application_builder(list(host_args))
        # Looked up here, not bound at import: a module-level ``settings`` (a lazy object that
        # configures Django when touched) made ``pydoc threadhost.contrib.django`` fail.
        defaults = getattr(django.conf.settings, "THREADHOST", None) or {}
        if not isinstance(defaults, dict):
            raise ConfigurationError(
                f"settings.THREADHOST must be a dict of configuration (nested sections "
                f"allowed), got {type(defaults).__name__}")
        # Lowest precedence: everything else overrides the Django settings.
        builder.configuration.add_defaults(defaults, name="settings.THREADHOST")
        builder.add_thread_exit_hook(close_thread_connections)
        self.configure_host(builder)
        return builder.build()

    def handle(self, *args: Any, **options: Any) -> None:
        """Build and run the host on this thread; ``SystemExit`` with its code if not 0.

        Raises CommandError (one line) for what every entry point reports in one line: a
        configuration error (exit code 2), a hosted service that cannot be constructed (1);
        with threadhost's console in the json format, where ``build()`` wrote it as a record
        already, SystemExit with that code instead (no second, plain line).
        """
        try:
            host = self.build_host(options.get("host_args") or [])
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None:
                raise
            if build_failure_logged(exc):  # build() wrote it in the json log already
                sys.exit(failure[1])
            raise CommandError(failure[0], returncode=failure[1]) from exc
        code = host.run()
        if code:
            sys.exit(code)


def _split_own_options(parser: CommandParser, words: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the command's own options with their values, every other word in order). An option
    is the command's if the parser knows its name (``--verbosity 2``, ``--traceback``,
    ``--settings=x``); anything else (``--Key=value``, ``--Key value``, ``Key=value``) is
    the host's."""
    actions = {name: action for action in parser._actions for name in action.option_strings}
    own: list[str] = []
    host: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        action = actions.get(word.split("=", 1)[0])
        i += 1
        if action is None:
            host.append(word)
            continue
        own.append(word)
        if "=" not in word and action.nargs != 0 and i < len(words):
            own.append(words[i])  # the option's value
            i += 1
    return own, host
