"""``import threadhost``: its import time beside that of its two runtime dependencies alone.

Each figure is the cumulative time ``python -X importtime`` reports for the statement's own
imports (its top-level entries; what the interpreter imports at start-up, ``site`` and the
like, counts for neither), in a fresh interpreter per run, with bytecode caching on: the
child's environment drops PYTHONDONTWRITEBYTECODE, and one warm-up run of each statement
writes the ``.pyc`` files first. threadhost: ``import threadhost``. Baseline, the floor no
change inside threadhost can go below: ``import injector, pythonjsonlogger.json``, its two
runtime dependencies (``import injector`` alone is printed too: threadhost imports
python-json-logger only when a JSON log format is configured). The statements alternate,
REPEAT runs each, from an empty temporary folder (so the installed threadhost is measured);
the medians are printed with the ratio threadhost / baseline (lower is better).

Run: python benchmarks/bench_import.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

THREADHOST = "import threadhost"
FLOOR = "import injector, pythonjsonlogger.json"
INJECTOR = "import injector"

# "import time: <self us> | <cumulative us> | <indent><module>"; indent 0 = top level.
_LINE = re.compile(r"import time:\s*(\d+) \|\s*(\d+) \| ( *)(\S+)")


def importtime(statement: str, cwd: str) -> list[tuple[str, int, int]]:
    """(module, cumulative us, depth) of every import ``-X importtime`` reports for
    ``statement`` run by a fresh interpreter, start-up imports included."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    stderr = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], cwd=cwd,
                            env=env, capture_output=True, text=True, check=True).stderr
    return [(m[4], int(m[2]), len(m[3]) // 2) for m in map(_LINE.match, stderr.splitlines())
            if m is not None]


def cumulative_ms(statement: str, cwd: str, startup: set[str]) -> float:
    """The statement's import time: its top-level imports that start-up did not make."""
    return sum(us for module, us, depth in importtime(statement, cwd)
               if depth == 0 and module not in startup) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    statements = (THREADHOST, FLOOR, INJECTOR)
    with tempfile.TemporaryDirectory() as cwd:
        startup = {module for module, _, _ in importtime("pass", cwd)}
        for statement in statements:  # warm-up: writes the .pyc files
            importtime(statement, cwd)
        runs: dict[str, list[float]] = {s: [] for s in statements}
        for _ in range(args.repeat):
            for statement in statements:
                runs[statement].append(cumulative_ms(statement, cwd, startup))
    ours, floor, bare = (statistics.median(runs[s]) for s in statements)
    print(f"medians of {args.repeat} runs each, bytecode cached (python -X importtime)")
    print(f"{THREADHOST:<40} {ours:6.1f} ms")
    print(f"{FLOOR:<40} {floor:6.1f} ms   ratio {ours / floor:.2f}")
    print(f"{INJECTOR:<40} {bare:6.1f} ms   ratio {ours / bare:.2f}")


if __name__ == "__main__":
    main()
