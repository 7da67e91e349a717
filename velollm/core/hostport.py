"""An address as velollm.yaml's `host:` and `--host` give it to a server that takes one
(llama-server, vLLM): 127.0.0.1:8080, http://host:port, [::1]:9000 or a bare host. Pure.

(Ollama's OLLAMA_HOST has rules of its own, Go's: backends/ollama/host.py.)
"""

from __future__ import annotations

from velollm.errors import UsageError

WILDCARDS = ("0.0.0.0", "::", "None")  # bind addresses that mean every interface


def split_host(text: str, default_port: int) -> tuple[str, int]:
    """"127.0.0.1:8080" -> ("127.0.0.1", 8080); "[::1]:9000" -> ("::1", 9000); no port: the
    server's default; no name: 127.0.0.1."""
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
    return name or "127.0.0.1", int(port or default_port)


def host_url(host: str, default_port: int, *, wildcard_is_loopback: bool = False) -> str:
    """The URL to ask: http(s)://name:port. `wildcard_is_loopback`: a server bound to every
    interface (0.0.0.0, ::) is asked on 127.0.0.1."""
    text = host.strip()
    scheme = "https" if text.startswith("https://") else "http"
    rest = text.split("://", 1)[-1].rstrip("/")
    if not rest or any(c.isspace() for c in rest) or "/" in rest:
        raise UsageError(f"invalid host {host!r}: give 127.0.0.1:{default_port} or "
                         "http://host:port")
    name, port = split_host(rest, default_port)
    if wildcard_is_loopback and name in WILDCARDS:
        name = "127.0.0.1"
    shown = f"[{name}]" if ":" in name else name
    return f"{scheme}://{shown}:{port}"
