"""gather_facts: the server is asked once, and not at all when planning for another machine."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from tests.hwvalues import machine
from velollm.app.facts import gather_facts
from velollm.backends.base import Backend, ModelFacts, Observed
from velollm.backends.ollama.knobs import capabilities
from velollm.core.facts import Capabilities
from velollm.core.hardware import Hardware


class _Server:
    """The backend methods gather_facts uses, recording what it was asked."""

    def __init__(self, server_version: str | None) -> None:
        self.server_version = server_version
        self.asked: list[tuple[str, Any]] = []

    def base_url(self, host: str | None) -> str:
        return host or "http://127.0.0.1:11434"

    def model_facts(self, names: Iterable[str], base_url: str | None) -> ModelFacts:
        self.asked.append(("models", (tuple(names), base_url)))
        return ModelFacts(server_version=self.server_version, reachable=base_url is not None)

    def installed_version(self, hardware: Hardware) -> str | None:
        return hardware.ollama.version

    def capabilities(self, version: str | None) -> Capabilities:
        return capabilities(version)

    def settings_now(self, base_url: str) -> dict[str, Observed]:
        self.asked.append(("now", base_url))
        return {"OLLAMA_NUM_PARALLEL": Observed("2", "running server (pid 1)")}


def test_this_machine_asks_the_running_server() -> None:
    server = _Server("0.12.4")
    facts = gather_facts(cast(Backend, server), machine(), ["llama3.1:8b"],
                         host="http://10.0.0.2:11434", elsewhere=False)
    assert server.asked == [("models", (("llama3.1:8b",), "http://10.0.0.2:11434")),
                            ("now", "http://10.0.0.2:11434")]
    assert facts.base_url == "http://10.0.0.2:11434" and not facts.elsewhere
    assert facts.version == "0.12.4" and facts.caps.version == "0.12.4"
    assert facts.now["OLLAMA_NUM_PARALLEL"].value == "2" and facts.models.reachable


def test_another_machine_asks_no_server() -> None:
    server = _Server(None)
    facts = gather_facts(cast(Backend, server), machine(), ["llama3.1:8b"], host=None,
                         elsewhere=True)
    assert server.asked == [("models", (("llama3.1:8b",), None))]  # the shipped table only
    assert facts.elsewhere and facts.base_url is None and facts.now == {}
    assert facts.version is None  # machine() has no Ollama installed
