"""``closest``: the "did you mean ...?" of every typo warning and error of the configuration.

An unknown command-line option (``--systm``), a command-line key nothing read
(``--Worker:PollIntervall=5``) and a key matching no field of its options type all name the
closest known name, compared the same way: case, ``-``, ``_`` and ``/`` ignored, then
``difflib``'s ratio. Chosen over three copies that had each grown their own normalisation.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping


def normalized(name: str) -> str:
    """``name`` as typos are compared: casefolded, without ``-``, ``_`` and ``/``."""
    return "".join(c for c in name.casefold() if c not in "-_/")


def closest(name: str, candidates: Mapping[str, str], cutoff: float = 0.8) -> str | None:
    """The candidate whose key (a ``normalized`` name) is closest to ``normalized(name)``, as
    the candidate's value (the name to show), or None if none is as close as ``cutoff``. Any
    thread; pure."""
    close = difflib.get_close_matches(normalized(name), list(candidates), n=1, cutoff=cutoff)
    return candidates[close[0]] if close else None
