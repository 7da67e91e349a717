"""OLLAMA_HOST parsing with Ollama's own rules (envconfig.Host, shared/ollama-facts.md §1.2). Pure."""

from __future__ import annotations

import ipaddress
import re

DEFAULT_PORT = "11434"
# A host name or IPv4 address; anything else (quotes, '@', ']') is a typo, not a host.
_NAME = re.compile(r"[A-Za-z0-9._-]+")


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


def host_problem(value: str) -> str | None:
    """Why `value` is not a server address (None when it is one): for a host the user typed.

    parse_host never fails, as Ollama's parser: a bad port or bracket quietly becomes a default,
    right for the variable a server must start with, wrong for --host (the user asked for *that*).

    >>> [host_problem(v) for v in ("127.0.0.1:11434", "localhost", ":8080", "[::1]:8080",
    ...                            "::1", "https://example.com", "http://h:1/ollama")]
    [None, None, None, None, None, None, None]
    >>> host_problem("ftp://example")
    "the scheme must be http or https, not 'ftp'"
    >>> host_problem("http://127.0.0.1:99999")
    'the port must be a number from 1 to 65535'
    >>> host_problem("http://[bad")
    "'[bad' opens a bracket for an IPv6 address and never closes it"
    >>> host_problem("a b")
    'it contains white space'
    """
    if not value.strip():
        return "it is empty"
    if any(c.isspace() for c in value):
        return "it contains white space"
    scheme, sep, rest = value.partition("://")
    if sep and scheme not in ("http", "https"):
        return f"the scheme must be http or https, not {scheme!r}"
    return _hostport_problem((rest if sep else value).partition("/")[0])


def _hostport_problem(hostport: str) -> str | None:
    port: str | None = None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return f"{hostport!r} opens a bracket for an IPv6 address and never closes it"
        if not _is_ipv6(hostport[1:end]):
            return f"{hostport[1:end]!r} in brackets is not an IPv6 address"
        after = hostport[end + 1:]
        if after and not after.startswith(":"):
            return f"{after!r} after the IPv6 address is not a :PORT"
        port = after[1:] if after else None
    elif hostport.count(":") > 1:  # Ollama reads a bare IPv6 address as the host, port default
        if not _is_ipv6(hostport):
            return f"{hostport!r} is not an IPv6 address (write [ADDRESS]:PORT)"
    else:
        host, colon, given = hostport.partition(":")
        port = given if colon else None
        if not host and not colon:
            return "it names no host"
        if host and not _NAME.fullmatch(host):
            return f"{host!r} is not a host name or IP address"
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return "the port must be a number from 1 to 65535"
    return None


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


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
