"""The ``threadhost`` command line: ``run MODULE:ATTR``, ``demo``, ``new worker NAME``.

Exit codes are the host's (0 clean, 1 a service failed, 3 stragglers, 130 forced), and 2 for a
misused command line, as argparse does: an unknown or invalid option, a target that cannot
be found or is not a host, a configuration value that is invalid. Misuse prints one line,
``threadhost run: error: <what is wrong and how to fix it>``, and no traceback; an exception
raised by the application's own code (its import, its builder function) keeps its traceback
and exits 1, since that is a bug to read, not a typing mistake.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import math
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from threadhost._building.builder import HOST_PREFIX, HostApplicationBuilder
from threadhost._building.failure import failure_of
from threadhost._building.host import Host
from threadhost._config.command_line import (
    HOST_SETTING_OPTIONS,
    closest_option,
    parse_command_line,
)
from threadhost._errors import CONFIGURATION_EXIT_CODE
from threadhost._log_messages import build_failure_logged
from threadhost._logging.build_failure import report_build_failure
from threadhost._version import __version__

USAGE_ERROR = CONFIGURATION_EXIT_CODE


class TargetError(Exception):
    """A command's argument cannot be used (``MODULE:ATTR``, ``NAME``); the message says why
    and how to fix it."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block): ``prog: error: message``."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or value < 0:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: expected seconds >= 0 (inf for no limit)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="threadhost",
        description="Run a threadhost application until Ctrl+C or SIGTERM stops it.")
    parser.add_argument("--version", action="version", version=f"threadhost {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run the host that MODULE:ATTR names",
        description="Import MODULE, take ATTR (a Host, a HostApplicationBuilder, or a function "
                    "returning either, called with the app args if it takes a parameter) and "
                    "run it.")
    run.add_argument("target", metavar="MODULE:ATTR", help="e.g. myapp.worker:build_host")
    run.add_argument("--environment", metavar="NAME",
                     help="hosting environment (host setting 'environment'), e.g. Development")
    run.add_argument("--shutdown-timeout", metavar="S", type=_seconds,
                     help="seconds the whole stop may take (as --HostOptions:ShutdownTimeout=S "
                          "on the command line)")
    run.add_argument("--systemd", action="store_true",
                     help="notify systemd (READY, STOPPING, WATCHDOG) and log for the journal")
    run.add_argument("app_args", nargs=argparse.REMAINDER, metavar="...",
                     help="arguments for the application (its command-line configuration)")
    demo = commands.add_parser(
        "demo", help="run the bundled example: a grace-period manager for orders",
        description="Orders arrive, are confirmed once past their grace period, and each "
                    "confirmation is published to an outbox table; Ctrl+C stops it cleanly.")
    demo.add_argument("--json-logs", action="store_true", help="log one JSON object per line")
    demo.add_argument("--postgres", metavar="CONNINFO",
                      help="run the grace-period job as a singleton leased on this PostgreSQL "
                           "database, so several replicas can run side by side")
    demo.add_argument("--duration", metavar="S", type=_seconds,
                      help="stop by itself after S seconds")
    demo.add_argument("app_args", nargs=argparse.REMAINDER, metavar="...",
                      help="configuration, e.g. --Demo:GracePeriodTime=5")
    new = commands.add_parser(
        "new", help="write a new project skeleton",
        description="Write a runnable project: an app module with a BackgroundService and a "
                    "periodic service, appsettings files, a systemd unit and tests that use "
                    "the fake clock.")
    new.add_argument("template", choices=["worker"], help="the kind of project")
    new.add_argument("name", metavar="NAME", help="the project and package name, e.g. mailer")
    new.add_argument("--output", metavar="DIR", default=".",
                     help="where to create the NAME folder (default: here)")
    return parser


def resolve(target: str, app_args: Sequence[str]) -> Host | HostApplicationBuilder:
    """Import ``MODULE:ATTR`` and turn it into a Host or builder; TargetError if it cannot."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"{target!r} is not MODULE:ATTR; write e.g. myapp.worker:build_host")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does, so local modules import
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the target itself (or a package on its path) is our user's typing mistake; a
        # module its code imports is the application's bug (traceback, exit 1).
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise TargetError(f"cannot import module {module_name!r} ({exc}); check the name "
                              "and that it is on sys.path") from exc
        raise
    try:
        value = getattr(module, attr)
    except AttributeError:
        raise TargetError(f"module {module_name!r} has no attribute {attr!r}") from None
    if isinstance(value, type):
        raise TargetError(
            f"{target!r} is the class {value.__qualname__}, not a Host, a "
            "HostApplicationBuilder or a function returning one of them")
    if callable(value) and not isinstance(value, Host | HostApplicationBuilder):
        value = value(list(app_args)) if _takes_an_argument(value) else value()
    if not isinstance(value, Host | HostApplicationBuilder):
        raise TargetError(
            f"{target!r} is a {type(value).__name__}, not a Host, a HostApplicationBuilder or "
            "a function returning one of them")
    return value


def _takes_an_argument(function: object) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in parameters)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if any(a in ("-h", "--help") for a in args.app_args):
        parser.parse_args(["run", "--help"])  # prints the help of `run` and exits 0
    app_args = list(args.app_args)
    if args.shutdown_timeout is not None:
        # Command-line precedence: after the application's own arguments, so it wins over
        # appsettings.json and environment variables. The environment variable reaches a
        # host built at import time (environment-variable precedence).
        setting = f"--HostOptions:ShutdownTimeout={args.shutdown_timeout}"
        app_args.append(setting)
        os.environ["HOSTOPTIONS__SHUTDOWNTIMEOUT"] = str(args.shutdown_timeout)
    # The environment is a host setting: it must reach a builder made at import time.
    if args.environment:
        os.environ[f"{HOST_PREFIX}ENVIRONMENT"] = args.environment
    target = resolve(args.target, app_args)
    if isinstance(target, Host):
        if args.systemd:
            raise TargetError(f"--systemd needs a builder, but {args.target!r} is an "
                              "already built Host; return the builder instead")
        host = target
    else:
        target.configuration.add_command_line(app_args)
        if args.systemd:
            target.use_systemd()
        host = target.build()
    return host.run()


def _report_in_log_format(app_args: Sequence[str], exc: TargetError) -> None:
    """A mistake ``run`` found before any builder (a typo'd option, a target that does not
    import) as one record, where the application's command line or environment asks for a
    structured console log (``--Logging:Console:FormatterName=json``): no plain line in a
    JSON log. Never raises."""
    try:
        builder = Host.create_application_builder(list(app_args))
        report_build_failure(builder.logging, None, exc, "threadhost run")
    except Exception:  # the plain line is printed then: nothing is lost
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m threadhost`` and the ``threadhost`` script; the exit code.

    Runs on the calling thread (the main thread, so signals reach the host).
    """
    parser = _parser()
    # Options argparse does not know (--Key=value) are the application's configuration.
    args, unknown = parser.parse_known_args(argv)
    if args.command == "new" and unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.app_args = [*unknown, *getattr(args, "app_args", ())]
    prog = f"threadhost {args.command}"
    try:
        if args.command != "new":
            _check_options(args.app_args, _options_of(parser, args.command), prog)
        if args.command == "run":
            return _run(args, parser)
        if args.command == "new":
            from threadhost._cli.scaffold import write_project  # noqa: PLC0415  (only needed here)
            try:
                path = write_project(args.template, args.name, args.output)
            except (ValueError, FileExistsError) as exc:
                raise TargetError(str(exc)) from exc
            print(f"Created {path}. Next: cd {path} && python -m pytest -q")
            return 0
        from threadhost._cli.demo import run_demo  # noqa: PLC0415  (the demo is not needed to run apps)
        app_args = list(args.app_args)
        if args.postgres:
            app_args.append(f"--Demo:Postgres={args.postgres}")
        return run_demo(app_args, json_logs=args.json_logs, duration=args.duration)
    except TargetError as exc:
        if args.command == "run":
            _report_in_log_format(args.app_args, exc)
        if not build_failure_logged(exc):  # written as a record of a json log already
            print(f"{prog}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except Exception as exc:
        failure = failure_of(exc)  # the one error path every entry point shares
        if failure is None:
            raise  # the application's own bug: its traceback, exit 1
        if not build_failure_logged(exc):  # build() wrote it in the json log already
            print(f"{prog}: error: {failure[0]}", file=sys.stderr)
        return failure[1]


def _options_of(parser: argparse.ArgumentParser, command: str) -> list[str]:
    """The long options of ``command`` (``--environment``, ``--systemd``...)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [o for a in action.choices[command]._actions
                    for o in a.option_strings if o.startswith("--")]
    return []


def _check_options(app_args: Sequence[str], options: Sequence[str], prog: str) -> None:
    """TargetError for an argument that looks like a typo'd option of this command or a host
    setting (``--systm``, ``--shutdown-timout=3``), or is an option of the command given
    after ``MODULE:ATTR`` (where it would be the application's); ConfigurationError for a
    ``--Key`` with no value. A key with a ``:`` is the application's configuration and never
    an option."""
    known = [*options, *HOST_SETTING_OPTIONS]
    for arg in app_args:
        name = arg.partition("=")[0]
        if not name.startswith("--") or ":" in name:
            continue
        if name in options and name not in (*HOST_SETTING_OPTIONS, "--help", "--version"):
            where = "MODULE:ATTR" if prog == "threadhost run" else "the application's arguments"
            raise TargetError(f"{name} is an option of {prog}: put it before {where}")
        close = closest_option(name, known)
        if close is not None:
            raise TargetError(f"unknown option {name}; did you mean {close}?")
    parse_command_line([a for a in app_args if a not in ("-h", "--help")], known)
