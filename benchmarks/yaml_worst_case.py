"""How long velollm takes to refuse (or read) the slowest velollm.yaml files it accepts to read:
each shape below is grown to MAX_BYTES, written to a temp dir and loaded through load_yaml, the
path every command takes. Target: every one under 5 s on a busy CI machine (issue 15: no hang).

usage: python benchmarks/yaml_worst_case.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from velollm.config.yamlload import MAX_BYTES, load_yaml
from velollm.errors import VelollmError

N = MAX_BYTES - 64
SHAPES: dict[str, Callable[[], str]] = {
    "one long plain scalar": lambda: "version: 1\nx: " + "a" * N,
    "doubled single quotes": lambda: "version: 1\nx: '" + "''" * (N // 2) + "'",
    "double-quoted escapes": lambda: 'version: 1\nx: "' + "\\t" * (N // 2) + '"',
    "one long comment": lambda: "version: 1\n#" + "#" * N,
    "blank lines": lambda: "version: 1\n" + "\n" * N,
    "flow sequence items": lambda: "version: 1\nx: [" + "a, " * (N // 3) + "]",
    "flow mapping items": lambda: "version: 1\nx: {" + "".join(
        f"k{i}: 1, " for i in range(N // 12)) + "}",
    "explicit keys": lambda: "version: 1\n" + "? a\n: 1\n" * (N // 8),
    "anchors": lambda: "version: 1\nx: [" + "".join(f"&a{i} 1, " for i in range(N // 12)) + "]",
    "tags": lambda: "version: 1\nx: [" + "!!str a, " * (N // 10) + "]",
    "nested block sequences": lambda: "version: 1\nx:\n" + "- " * (N // 2),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"MAX_BYTES = {MAX_BYTES}; best of {args.repeat} runs")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "velollm.yaml"
        for name, make in SHAPES.items():
            path.write_text(make(), encoding="utf-8")
            best, outcome = float("inf"), ""
            for _ in range(args.repeat):
                start = time.perf_counter()
                try:
                    load_yaml(path)
                    outcome = "read"
                except VelollmError as exc:
                    outcome = f"refused: {getattr(exc, 'problems', [{}])[0].get('message', exc)}"
                best = min(best, time.perf_counter() - start)
            print(f"{best:7.2f} s  {name:26} {outcome[:70]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
