"""The only module that imports requests: one choke point for every call to the Ollama API.

`requests` is imported lazily so commands that never talk to a server (and `--version`) stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from velollm.errors import ServerResponseError, ServerUnreachableError
from velollm.ollama.host import connect_url

if TYPE_CHECKING:
    import requests


@dataclass
class OllamaClient:
    base_url: str
    connect_timeout: float = 2.0
    read_timeout: float = 30.0

    def __post_init__(self) -> None:
        self.base_url = connect_url(self.base_url.rstrip("/"))
        self._session: requests.Session | None = None

    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.trust_env = False  # never route a loopback server through a proxy
        return self._session

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        import requests

        url = f"{self.base_url}{path}"
        kwargs.setdefault("timeout", (self.connect_timeout, self.read_timeout))
        try:
            response = self._http().request(method, url, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ServerUnreachableError(
                f"Ollama is not reachable at {self.base_url} ({type(exc).__name__})",
                hint="start it with `ollama serve`, or set OLLAMA_HOST to where it listens",
            ) from None
        if response.status_code >= 400:
            raise ServerResponseError(
                f"Ollama answered {method} {path} with HTTP {response.status_code}: "
                f"{_error_text(response)}",
                status=response.status_code,
            )
        return response

    def version(self) -> str:
        data = self._request("GET", "/api/version").json()
        return str(data.get("version", ""))


def _error_text(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    return response.text.strip()[:200]
