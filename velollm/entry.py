"""The console script: answers `velollm --version` before importing anything else.

The full entry point (velollm/main.py: the parser, the command table, the error handler) costs
imports that `--version` does not need; this keeps `velollm --version` near the bare interpreter.
"""

import sys

from velollm import __version__


def main() -> int:
    if sys.argv[1:] in (["--version"], ["-V"]):
        print(f"velollm {__version__}")
        return 0
    from velollm.main import main as full

    return full()
