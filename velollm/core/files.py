"""A file velollm would write: rendered by a backend, carried by the Plan, written by fileops.

One type from render to disk, so nothing is copied field by field on the way. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RenderedFile:
    """Where, what, and how the server picks the change up."""

    path: Path
    content: str
    mode: int = 0o644
    kind: str = ""  # target kind that rendered it: shell, fish, systemd, launchd, modelfile
    # Shell command lines (shlex.split gives argv) that make the server read the new file:
    # daemon-reload, `ollama create`.
    follow_up: tuple[str, ...] = ()
    pickup: str = ""  # one sentence for the user: how the server picks the change up
    # The command line that restarts the server with the file where velollm cannot (it did not
    # start an `ollama serve` run from a shell): the user runs it, --restart only says so.
    by_hand: str = ""

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
