"""``Roster``: the account of a host's services for its stop.

Which services were constructed, which started, whose start failed, and the errors (start
failures, crashes) the report will list. The start writes it, the stop takes it once (step 5)
and reads what came after (step 9). A service whose start returns after the stop took the
roster is stopped at once by the starting thread (``started``), so none is left out.

Chosen: its own lock, apart from the host's lifecycle lock (nothing here needs to change
together with the host's state), and a lock-free path for ``started``, which the start calls
between every two thread starts. Rejected: keeping these lists on ``HostCore`` (it mixed the
account of services with the lifecycle and the control thread, in a module past 400 lines).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from threadhost import _log_messages as log
from threadhost._hosting.plan import Call
from threadhost._hosting.report import ServiceError
from threadhost._hosting.states import ServiceState
from threadhost._time.cancellation import CancellationTokenSource
from threadhost._time.clock import Clock

if TYPE_CHECKING:
    from threadhost._hosting.slot import ServiceSlot
    from threadhost._hosting.stopping import Account, Entry

_STOPPING = ServiceState.STOPPING  # (see states.py)


class Roster:
    """See the module notes. Thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._resolved: list[Entry] = []  # guarded by _lock: every service constructed
        self._started: list[Entry] = []  # guarded by _lock: services whose start returned
        self._failed: list[Entry] = []  # guarded by _lock: services whose start call raised
        self._taken = False  # written under _lock: the stop has taken the list of started ones
        self._taken_list: list[Entry] = []  # guarded by _lock: the list it took
        self._errors: list[ServiceError] = []  # guarded by _lock: start failures, crashes
        self._errors_taken = 0  # guarded by _lock: how many of _errors the stop took

    def resolved(self, entries: Sequence[Entry]) -> None:
        """Every service was constructed: those whose start is never made are still asked to
        stop (``take``)."""
        with self._lock:
            self._resolved = list(entries)

    def started(self, entries: Sequence[Entry]) -> None:
        """The start of ``entries`` returned: the stop will stop them (or, if the stop already
        took the roster, stop them here, at once, on the calling thread).

        Lock-free in the common case: the stop sets ``_taken`` before it copies ``_started``,
        so entries added while ``_taken`` still reads False afterwards are in its copy. Only
        if it reads True does the lock settle which ones the copy holds. (``list.extend`` of
        a tuple or list, and the copy, are single steps under the GIL.)
        """
        if not self._taken:
            self._started.extend(entries)
            if not self._taken:
                return
        with self._lock:
            taken = {id(e) for e in self._taken_list}
        for entry in entries:
            if id(entry) in taken:
                continue
            # The stop already took its list (its deadline passed while this start ran):
            # stop the service here, at once, and keep its errors in the log.
            log.late_start(entry.name)
            with CancellationTokenSource(self._clock) as cancelled:
                cancelled.cancel()
                call = Call(entry.name, "stop", functools.partial(
                    entry.service.stop, cancelled.token))
                call.run(self._clock)
            if call.error is not None:
                log.service_stop_failed(entry.name, "stop", call.error)

    def failed(self, entries: Sequence[Entry]) -> None:
        """A start call of ``entries`` raised: the stop is not made for them (they never
        started), but whatever threads their start had begun are asked to stop, waited for
        and, if still running, reported as stragglers."""
        with self._lock:
            self._failed.extend(entries)

    def add_errors(self, errors: Iterable[ServiceError]) -> None:
        """Errors for the report (the start's failures)."""
        with self._lock:
            self._errors.extend(errors)

    def crashed(self, slot: ServiceSlot, error: BaseException) -> None:
        """A service's ``execute`` raised (the supervisor's report of a crash)."""
        with self._lock:
            self._errors.append(ServiceError(slot.name, error, "execute"))

    def errors(self) -> tuple[ServiceError, ...]:
        """Every error recorded so far."""
        with self._lock:
            return tuple(self._errors)

    def take(self, account: Account) -> tuple[list[Entry], list[Entry]]:
        """Step 5 of the stop: the services to stop (now STOPPING), and those to ask only:
        whose start failed or was never made. The errors so far go to ``account``."""
        with self._lock:
            self._taken = True  # before the copy: see started
            entries = self._taken_list = list(self._started)
            others = list(self._failed)
            made = {*entries, *others}  # (entries compare by identity)
            others.extend(e for e in self._resolved if e not in made)
            account.errors.extend(self._errors)
            self._errors_taken = len(self._errors)
        for entry in entries:
            entry.slot.move(_STOPPING)
        return entries, others

    def errors_since_taken(self) -> list[ServiceError]:
        """Step 9: the errors recorded since ``take`` (crashes during the stop)."""
        with self._lock:
            return self._errors[self._errors_taken:]
