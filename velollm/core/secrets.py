"""Credentials in URLs (HTTPS_PROXY=http://user:pass@proxy:3128) never reach a report, a log or
a crash log: every byte the user sees (velollm/output.py) and every crash log (main.py) goes
through mask_secrets(); files that must hold the credential are written 0600 (targets).

The user part stays (it helps to recognise which proxy) and the password becomes ***; a URL
with a token as its only user info (https://TOKEN@host) loses all of it.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
# scheme://USERINFO@ where USERINFO runs to the last '@' of the word. Anything but a blank may be
# in it, on purpose: a password that a renderer quoted (sh's '\'' splice, systemd's \") must be
# masked whole, not up to the quote; one with a raw / ? or # is not a valid URL but still masked.
# The price is rare over-masking (http://host/path@x), never a password shown.
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)(\S*)@")
# Go's proxy reader also takes a URL without its scheme (user:pass@proxy:3128): then what follows
# the @ must look like a host and port, so that name:tag@sha256:... is left alone.
_BARE_USERINFO = re.compile(
    r"(?<![\w.%/:-])([\w.%-]+):([^\s/]+)@"
    r"(?=(?:[\w.-]+|\[[0-9A-Fa-f:.]+\])(?::\d+)?(?:[\s'\"/,)\]]|\Z))")


def _masked(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    if not userinfo:
        return match.group(0)
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}{user}:{MASK}@" if colon else f"{scheme}{MASK}@"


def mask_secrets(text: str) -> str:
    """`text` with the password (or token) of every URL replaced by ***."""
    if "@" not in text:
        return text
    text = _USERINFO.sub(_masked, text)
    return _BARE_USERINFO.sub(lambda m: m.group(0) if m.group(2) == MASK
                              else f"{m.group(1)}:{MASK}@", text)


def has_secret(text: str) -> bool:
    return mask_secrets(text) != text


def mask_document(value: Any) -> Any:
    """A JSON-shaped value with every string (keys too) masked; other values as they are."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {mask_document(k): mask_document(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_document(v) for v in value]
    return value
