"""Text layout the reports share: tables that fit the terminal, times people read.

The --json twins keep the raw values (ISO 8601 times, whole cells); only the text is shaped here.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Collection, Sequence
from datetime import datetime

GAP = 2  # spaces between columns
MIN_FLEX = 24  # the prose column keeps this many characters a line beside the others, or goes below
MIN_OTHER = 8  # any column, when words have to break
BELOW = 4  # how far the prose column is indented when it goes below its row


def columns() -> int:
    """The terminal's width; 80 when there is none (a pipe, a file) or COLUMNS says so."""
    return shutil.get_terminal_size((80, 24)).columns


def fit_table(rows: Sequence[Sequence[str]], *, width: int | None = None, indent: int = 0,
              flex: int | None = None, right: Collection[int] = ()) -> list[list[str]]:
    """The lines of each row (rows[0] is the header), none longer than `width` (default: the
    terminal's) where that can be done. A cell wider than its column wraps onto more lines;
    nothing is cut. When the natural table is too wide: the header's cells wrap at spaces; the
    `flex` column (prose: a why, a verdict) narrows to MIN_FLEX, and when even that leaves no
    room, it goes below each row, across the width; the other columns narrow to their longest
    word, then words break. `right`: the columns aligned right (numbers)."""
    width = columns() if width is None else width
    n = len(rows[0])
    data = [max((len(r[i]) for r in rows[1:]), default=0) for i in range(n)]
    widths = [max(d, len(h)) for d, h in zip(data, rows[0], strict=True)]
    room = width - indent - GAP * (n - 1)
    if sum(widths) > room:  # headers over several lines
        widths = [max(d, *(len(w) for w in h.split()), 1) for d, h in zip(data, rows[0],
                                                                         strict=True)]
    if flex is not None and sum(widths) > room:
        widths[flex] = max(widths[flex] - (sum(widths) - room), min(widths[flex], MIN_FLEX))
        if sum(widths) > room:
            return _flex_below(rows, flex, width, indent, right)
    word = [max((len(w) for r in rows for w in r[i].split()), default=1) for i in range(n)]
    by_width = sorted(range(n), key=lambda j: -widths[j])
    for i, floor in [*((j, word[j]) for j in by_width), *((j, MIN_OTHER) for j in by_width)]:
        over = sum(widths) - room
        if over <= 0:
            break
        widths[i] = max(min(widths[i], floor), widths[i] - over)
    out = []
    for row in rows:
        cells = [_lines(c, w) for c, w in zip(row, widths, strict=True)]
        height = max(len(c) for c in cells)
        out.append([(" " * indent + (" " * GAP).join(
            (c[h] if h < len(c) else "").rjust(w) if i in right
            else (c[h] if h < len(c) else "").ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True)))).rstrip()
            for h in range(height)])
    return out


def _flex_below(rows: Sequence[Sequence[str]], flex: int, width: int, indent: int,
                right: Collection[int]) -> list[list[str]]:
    """The table without the `flex` column, each row followed by its flex cell, indented."""
    rest = [[c for j, c in enumerate(r) if j != flex] for r in rows]
    table = fit_table(rest, width=width, indent=indent,
                      right={j - (j > flex) for j in right if j != flex})
    pad = " " * (indent + BELOW)
    return [lines + textwrap.wrap(r[flex], width, initial_indent=pad, subsequent_indent=pad)
            for lines, r in zip(table, rows, strict=True)]


def _lines(cell: str, width: int) -> list[str]:
    return [cell] if len(cell) <= width else textwrap.wrap(cell, width) or [""]


def wrap_text(text: str, *, indent: str = "", width: int | None = None) -> list[str]:
    """A line of prose as lines that fit; the continuation lines indented by `indent`."""
    width = columns() if width is None else width
    return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False) or [""]


def local_time(iso: str | None) -> str:
    """An ISO 8601 time (Python's or Go's RFC 3339, nanoseconds and Z allowed) as the local
    "2026-12-03 10:15"; the text unchanged when it is no such time, "-" when there is none."""
    if not iso:
        return "-"
    text = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], iso.strip())
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return iso
    return when.astimezone().strftime("%Y-%m-%d %H:%M")
