"""Starting threadhost's infrastructure threads (the timer thread).

Threads start with the process's signal mask as it is: threadhost blocks no signal in any
thread, so children started from any thread get the default mask. How stop signals reach the
host whichever thread the kernel picks is in ``_signals``.
"""

from __future__ import annotations

import threading


def start_thread(thread: threading.Thread) -> None:
    """``thread.start()``; any thread may call it."""
    thread.start()
