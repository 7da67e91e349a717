"""A file velollm would write: rendered by a backend, carried by the Plan, written by fileops.

One type from render to disk, so nothing is copied field by field on the way. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def sha256_text(text: str) -> str:
    import hashlib  # loads OpenSSL (~5 ms): not at import, `detect` never hashes

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RenderedFile:
    """Where, what, and how the server picks the change up.

    `content` is the text, or a function that renders it: rendering means jinja2 (~30 ms to
    import), and a plan that only lists the files (`velollm plan` in a terminal) never needs
    the text. It is rendered once, on first use, and is then a plain value."""

    __slots__ = ("_content", "by_hand", "follow_up", "kind", "mode", "path", "pickup")

    def __init__(self, path: Path, content: str | Callable[[], str], mode: int = 0o644,
                 kind: str = "", follow_up: tuple[str, ...] = (), pickup: str = "",
                 by_hand: str = "") -> None:
        self.path = path
        self._content = content
        self.mode = mode
        self.kind = kind  # target kind that rendered it: shell, fish, systemd, launchd, modelfile
        # Shell command lines (shlex.split gives argv) that make the server read the new file:
        # daemon-reload, `ollama create`.
        self.follow_up = follow_up
        self.pickup = pickup  # one sentence for the user: how the server picks the change up
        # The command line that restarts the server with the file where velollm cannot (it did
        # not start an `ollama serve` run from a shell): the user runs it, --restart only says so.
        self.by_hand = by_hand

    @property
    def content(self) -> str:
        if callable(self._content):
            self._content = self._content()
        return self._content

    def with_mode(self, mode: int) -> RenderedFile:
        return RenderedFile(self.path, self._content, mode, self.kind, self.follow_up,
                            self.pickup, self.by_hand)

    def _key(self) -> tuple[object, ...]:
        return (self.path, self.content, self.mode, self.kind, self.follow_up, self.pickup,
                self.by_hand)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RenderedFile) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"RenderedFile(path={self.path!r}, kind={self.kind!r}, mode={self.mode:#o})"

    @property
    def sha256(self) -> str:
        # Derived, never stored: a hash that could disagree with the content would be a lie.
        return sha256_text(self.content)

    def to_dict(self) -> dict[str, Any]:
        """The plan file's shape (plan_format 1): the path as text, the hash spelled out."""
        return {"path": str(self.path), "content": self.content, "sha256": self.sha256,
                "mode": self.mode, "kind": self.kind, "follow_up": list(self.follow_up),
                "pickup": self.pickup, "by_hand": self.by_hand}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> RenderedFile:
        """The inverse of to_dict; a hash that does not match the content is a damaged plan."""
        made = cls(Path(doc["path"]), doc["content"], int(doc["mode"]), doc["kind"],
                   tuple(doc["follow_up"]), doc["pickup"], str(doc.get("by_hand") or ""))
        if doc["sha256"] != made.sha256:
            raise ValueError(f"the content of {made.path} does not match its sha256")
        return made
