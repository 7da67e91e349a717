"""Where llama-server listens: velollm.yaml's host: (or --host) as an address and a URL."""

from __future__ import annotations

from velollm.core import hostport

DEFAULT_PORT = 8080


def host_url(host: str) -> str:
    """127.0.0.1:8080, http://host:port or host -> http://host:port (llama-server speaks plain
    HTTP unless built with SSL)."""
    return hostport.host_url(host, DEFAULT_PORT)


def split_host(text: str) -> tuple[str, int]:
    """"127.0.0.1:8080" -> ("127.0.0.1", 8080); "[::1]:9000" -> ("::1", 9000); no port: 8080."""
    return hostport.split_host(text, DEFAULT_PORT)
