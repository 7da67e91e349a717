"""Every byte the user sees goes through here.

Results go to stdout (so `--json` can be piped), diagnostics to stderr. Colour follows
`--color auto|always|never` and the NO_COLOR convention (https://no-color.org). Credentials in
URLs (a proxy's user:password) are masked in everything written here (velollm/core/secrets.py).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from velollm.core.secrets import mask_document, mask_secrets

ColorMode = Literal["auto", "always", "never"]
FORMAT_VERSION = 1

_CODES = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}


@dataclass
class Output:
    color_mode: ColorMode = "auto"
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    json_mode: bool = False
    stdout: TextIO | None = None
    stderr: TextIO | None = None

    # Streams are looked up at call time so pytest's capsys (which swaps sys.stdout) works.
    @property
    def out(self) -> TextIO:
        return self.stdout or sys.stdout

    @property
    def err(self) -> TextIO:
        return self.stderr or sys.stderr

    def use_color(self, stream: TextIO) -> bool:
        if self.color_mode == "always":
            return True
        if self.color_mode == "never" or os.environ.get("NO_COLOR"):
            return False
        return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"

    def style(self, text: str, *styles: str, stream: TextIO | None = None) -> str:
        if not styles or not self.use_color(stream or self.out):
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    # -- results (stdout) -------------------------------------------------------------
    def line(self, text: str = "") -> None:
        """A line of the human report. Suppressed in --json mode so stdout stays one document."""
        if not self.json_mode:
            print(mask_secrets(text), file=self.out)

    def raw(self, text: str) -> None:
        """Text written to stdout verbatim, e.g. a profile or a rendered file."""
        self.out.write(mask_secrets(text))
        self.out.flush()

    def json(self, document: dict[str, Any]) -> None:
        doc = mask_document({"format_version": FORMAT_VERSION, **document})
        print(json.dumps(doc, indent=2, sort_keys=False, default=str), file=self.out)

    # -- diagnostics (stderr) -----------------------------------------------------------
    def error(self, message: str, hint: str | None = None) -> None:
        print(f"{self.style('error:', 'red', 'bold', stream=self.err)} {mask_secrets(message)}",
              file=self.err)
        if hint:
            print(f"{self.style('hint:', 'cyan', stream=self.err)} {mask_secrets(hint)}",
                  file=self.err)

    @property
    def quiet(self) -> bool:
        """-q: results and errors only (warnings stay; -qq drops them too)."""
        return self.verbosity < 0

    def warn(self, message: str) -> None:
        if self.verbosity >= -1:
            print(f"{self.style('warning:', 'yellow', 'bold', stream=self.err)} "
                  f"{mask_secrets(message)}", file=self.err)

    def info(self, message: str) -> None:
        if self.verbosity >= 0:
            print(mask_secrets(message), file=self.err)

    def debug(self, message: str) -> None:
        if self.verbosity >= 1:
            print(self.style(mask_secrets(message), "dim", stream=self.err), file=self.err)

    def progress_enabled(self) -> bool:
        return not self.json_mode and self.verbosity >= 0 and self.err.isatty()


# The one instance, configured by main() from the global options.
OUT = Output()


def configure(*, color: ColorMode, verbosity: int, json_mode: bool) -> Output:
    OUT.color_mode = color
    OUT.verbosity = verbosity
    OUT.json_mode = json_mode
    OUT.stdout = None
    OUT.stderr = None
    return OUT
