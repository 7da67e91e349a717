"""OLLAMA_HOST parsing with Ollama's own rules (envconfig.Host, shared/ollama-facts.md §1.2). Pure."""

from __future__ import annotations

import ipaddress

DEFAULT_PORT = "11434"


def _split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's net.SplitHostPort: 'h:p' or '[v6]:p'; None when there is no port part."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or not hostport[end + 1:].startswith(":"):
            return None
        return hostport[1:end], hostport[end + 2:]
    if hostport.count(":") != 1:
        return None
    host, port = hostport.split(":")
    return host, port


def parse_host(value: str | None) -> str:
    """Return the base URL Ollama would use for OLLAMA_HOST=value, e.g. 'http://127.0.0.1:11434'.

    >>> parse_host(None)
    'http://127.0.0.1:11434'
    >>> parse_host("0.0.0.0")
    'http://0.0.0.0:11434'
    >>> parse_host(":56789")  # Go listens on ":56789": every interface
    'http://0.0.0.0:56789'
    >>> parse_host("https://example.com")
    'https://example.com:443'
    >>> parse_host("http://[::1]:8080/ollama")
    'http://[::1]:8080/ollama'
    >>> parse_host("ollama.com")
    'https://ollama.com:443'
    >>> parse_host("127.0.0.1:99999")
    'http://127.0.0.1:11434'
    """
    s = (value or "").strip().strip("\"'")
    default_port = DEFAULT_PORT
    if "://" in s:
        scheme, hostport = s.split("://", 1)
        if scheme == "http":
            default_port = "80"
        elif scheme == "https":
            default_port = "443"
    else:
        scheme, hostport = "http", s
        if s == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    hostport, _, path = hostport.partition("/")
    split = _split_host_port(hostport)
    if split is None:
        host, port = "127.0.0.1", default_port
        bare = hostport.strip("[]")
        if bare:
            host = bare
    else:
        host, port = split
        host = host or "0.0.0.0"
    if not port.isdigit() or int(port) > 65535:
        port = default_port
    if ":" in host:
        host = f"[{host}]"
    url = f"{scheme}://{host}:{port}"
    return f"{url}/{path}" if path else url


def connect_url(base_url: str) -> str:
    """The URL a client on this machine dials: a wildcard bind address means loopback."""
    for wildcard, loopback in (("//0.0.0.0:", "//127.0.0.1:"), ("//[::]:", "//[::1]:")):
        base_url = base_url.replace(wildcard, loopback, 1)
    return base_url


def is_loopback(base_url: str) -> bool:
    """True when the server listens on loopback only (no exposure to the network)."""
    host = base_url.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
