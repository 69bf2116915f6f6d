"""An application in a JSON log (``Logging:Console:FormatterName=json`` as a default in code,
as the README shows) that makes Python write to stderr by itself: a ``warnings.warn``, a plain
``threading.Thread`` that dies of an exception, a ``__del__`` that raises, and a logging call
whose arguments do not fit its message. Then its service ignores the stop (a straggler), and
says ``stray output made``.

Arguments are the host's command line (``--HostOptions:ShutdownTimeout=0.2`` for a straggler
stop, a long one for a second signal, ``=abc`` for a build that fails), except
``--no-json-default``: no JSON default in code (the simple format unless asked for).
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings

import threadhost as th

log = logging.getLogger("myapp.worker")


def crash() -> None:
    raise RuntimeError("the plain thread failed")


class Leaky:
    def __del__(self) -> None:
        raise OSError("the file was gone already")


class MakesStrayOutput(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        warnings.warn("the old API is going away", UserWarning, stacklevel=1)
        plain = threading.Thread(target=crash, name="plain-worker")
        plain.start()
        plain.join()
        Leaky()  # dropped at once: its __del__ raises, which Python can only report
        log.info("%s and %s", "only one")  # noqa: PLE1206  (one argument for two placeholders: on purpose)
        log.info("stray output made")
        threading.Event().wait(30)  # deaf to the stop: a straggler


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--no-json-default"]
    builder = th.Host.create_application_builder(args)
    if args == sys.argv[1:]:
        builder.configuration.add_defaults({"Logging": {"Console": {"FormatterName": "json"}}})
    builder.services.add_hosted_service(MakesStrayOutput)
    sys.exit(builder.run())
