"""Where llama-server listens: velollm.yaml's host: (or --host) as an address and a URL."""

from __future__ import annotations

from velollm.errors import UsageError

DEFAULT_PORT = 8080


def host_url(host: str) -> str:
    """127.0.0.1:8080, http://host:port or host -> http://host:port (llama-server speaks plain
    HTTP unless built with SSL)."""
    text = host.strip()
    scheme = "https" if text.startswith("https://") else "http"
    rest = text.split("://", 1)[-1].rstrip("/")
    if not rest or any(c.isspace() for c in rest) or "/" in rest:
        raise UsageError(f"invalid host {host!r}: give 127.0.0.1:8080 or http://host:port")
    hostname, port = split_host(rest)
    shown = f"[{hostname}]" if ":" in hostname else hostname
    return f"{scheme}://{shown}:{port}"


def split_host(text: str) -> tuple[str, int]:
    """"127.0.0.1:8080" -> ("127.0.0.1", 8080); "[::1]:9000" -> ("::1", 9000); no port: 8080."""
    rest = text.split("://", 1)[-1].rstrip("/")
    if rest.startswith("["):
        name, _, tail = rest[1:].partition("]")
        port = tail.removeprefix(":")
    elif rest.count(":") == 1:
        name, port = rest.split(":")
    else:
        name, port = rest, ""
    if port and (not port.isdigit() or not 0 < int(port) <= 65535):
        raise UsageError(f"invalid port in {text!r}: give a number 1-65535")
    return name or "127.0.0.1", int(port or 8080)
