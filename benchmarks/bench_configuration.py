"""Reading an appsettings.json into flat keys: threadhost's reader beside ``json.loads``.

threadhost reads JSON settings with its own reader (comments, trailing commas, duplicate keys
with positions, no RecursionError; see ``threadhost/_json.py``). The baseline is what the
project did before: ``json.loads`` and a recursive flatten into ``A:B`` keys, in the same
run. The document is a realistic settings file of SECTIONS sections with a few keys, a list
and a nested section each. Ratio = threadhost time / baseline time (lower is better).

Run: python benchmarks/bench_configuration.py [--sections 50] [--repeat 5] [--number 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit
from typing import Any

from threadhost._config.json_source import parse_settings


def document(sections: int) -> str:
    return json.dumps({
        f"Section{i}": {
            "Enabled": True, "Port": 5000 + i, "Name": f"service-{i}", "Ratio": 0.25,
            "Hosts": [f"h{i}a", f"h{i}b", f"h{i}c"],
            "Retry": {"Attempts": 3, "Backoff": 1.5, "Mode": "Exponential"},
        } for i in range(sections)}, indent=2)


def baseline(text: str) -> dict[str, str]:
    data: dict[str, str] = {}

    def flatten(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                flatten(value, f"{prefix}:{key}" if prefix else key)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                flatten(value, f"{prefix}:{index}")
        elif node is not None:
            data[prefix.casefold()] = ("true" if node else "false") if isinstance(
                node, bool) else str(node)

    flatten(json.loads(text), "")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()
    text = document(args.sections)
    assert len(parse_settings(text, "bench.json")) == len(baseline(text))
    ours = statistics.median(timeit.repeat(lambda: parse_settings(text, "bench.json"),
                                           repeat=args.repeat, number=args.number))
    theirs = statistics.median(timeit.repeat(lambda: baseline(text), repeat=args.repeat,
                                             number=args.number))
    per = 1e6 / args.number
    print(f"{args.sections * 10} keys, {len(text)} bytes: threadhost {ours * per:.0f} us, "
          f"json.loads + flatten {theirs * per:.0f} us per read; ratio {ours / theirs:.1f}")


if __name__ == "__main__":
    main()
