"""Where vLLM listens: --host / velollm.yaml's host and port as a URL."""

from __future__ import annotations

from velollm.core import hostport

DEFAULT_PORT = 8000


def base_url(host: str) -> str:
    """127.0.0.1:8000, http://host:port, [::1]:8000 or host -> http://host:port. An unset or
    wildcard bind address (vLLM's default binds every interface) is asked on 127.0.0.1."""
    return hostport.host_url(host, DEFAULT_PORT, wildcard_is_loopback=True)
