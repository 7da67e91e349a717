"""The benchmark's progress bar: one self-rewriting stderr line, only on a terminal."""

from __future__ import annotations

from velollm.output import OUT


class Progress:
    """Called as the runner's `progress(done, total, name)`; `clear()` before anything else is
    written to stderr and at the end."""

    def __init__(self) -> None:
        self.width = 0
        self.cleared = False

    def __call__(self, done: int, total: int, name: str) -> None:
        filled = 20 * done // max(total, 1)
        text = f"[{'#' * filled}{'.' * (20 - filled)}] {name} {done}/{total}"
        OUT.err.write("\r" + text.ljust(self.width))
        OUT.err.flush()
        self.width = max(self.width, len(text))
        self.cleared = False

    def clear(self) -> None:
        if not self.cleared:  # after the run, or on the way out of a failed one
            self.cleared = True
            OUT.err.write("\r" + " " * self.width + "\r")
            OUT.err.flush()


def progress_bar() -> Progress | None:
    """A bar on stderr when it is a terminal (and neither --json nor -q); None otherwise."""
    return Progress() if OUT.progress_enabled() else None
