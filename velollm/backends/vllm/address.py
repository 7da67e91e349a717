"""Where vLLM listens: --host / velollm.yaml's host and port as a URL."""

from __future__ import annotations

from velollm.errors import UsageError

DEFAULT_PORT = 8000


def base_url(host: str) -> str:
    """127.0.0.1:8000, http://host:port, [::1]:8000 or host -> http://host:port. An unset or
    wildcard bind address (vLLM's default binds every interface) is asked on 127.0.0.1."""
    text = host.strip()
    scheme = "https" if text.startswith("https://") else "http"
    rest = text.split("://", 1)[-1].rstrip("/")
    if not rest or any(c.isspace() for c in rest) or "/" in rest:
        raise UsageError(f"invalid host {host!r}: give 127.0.0.1:8000 or http://host:port")
    if rest.startswith("["):
        name, _, tail = rest[1:].partition("]")
        port = tail.removeprefix(":")
    elif rest.count(":") == 1:
        name, port = rest.split(":")
    else:
        name, port = rest, ""
    if port and (not port.isdigit() or not 0 < int(port) <= 65535):
        raise UsageError(f"invalid port in {host!r}: give a number 1-65535")
    if name in ("", "0.0.0.0", "::", "None"):
        name = "127.0.0.1"
    shown = f"[{name}]" if ":" in name else name
    return f"{scheme}://{shown}:{int(port or DEFAULT_PORT)}"
