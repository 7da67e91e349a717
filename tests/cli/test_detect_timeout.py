"""`velollm detect --timeout`: a usable number of seconds or a usage error; a probe that ran out of
time is reported as timed out, never as "no server" or "not installed"."""

from __future__ import annotations

import contextlib
import errno
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.backends.ollama import install as ollama_install
from velollm.core.hardware import Hardware


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "1e12", ""])
def test_unusable_timeout_is_a_usage_error(value: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "detect", "--timeout", value)
    assert code == 2
    assert "argument --timeout:" in err and "seconds" in err
    assert out == ""


def test_help_describes_one_shared_deadline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "detect", "--help")
    assert code == 0
    assert "one deadline for all probes" in " ".join(out.split())


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that takes connections and never answers, as a server stuck loading a model."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_probes_that_time_out_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     silent_server: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    hanging = tmp_path / "bin" / "ollama"
    hanging.parent.mkdir()
    hanging.write_text("#!/bin/sh\nsleep 30\n")
    hanging.chmod(hanging.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{hanging.parent}:/usr/bin:/bin")
    monkeypatch.setenv("OLLAMA_HOST", silent_server)
    code, out, err = cli(capsys, "detect", "--timeout", "0.5", "--color", "never")
    assert code == 0
    ollama = next(line for line in out.splitlines() if line.startswith("Ollama"))
    assert ollama == (f"Ollama version unknown (`ollama --version` timed out) at {hanging}; "
                      f"no answer from http://{silent_server} in time (timed out)")
    assert "timed out: " in err and "ollama-server" in err and "longer --timeout" in err


def test_a_probe_past_the_deadline_is_not_reported_absent(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    doc: dict[str, Any] = hwdocs.hardware(ollama_version=None)
    doc["probes"] = [{"name": name, "status": "timeout",
                      "detail": "no answer before the detection deadline"}
                     for name in ("nvml", "lspci", "ollama", "ollama-server")]
    monkeypatch.setattr("velollm.io.hardware.detect",
                        lambda **_: Hardware.from_dict(doc))
    code, out, err = cli(capsys, "detect", "--color", "never")
    assert code == 0
    assert "GPU    none detected (nvml and lspci timed out)" in out
    assert "Ollama install unknown (the probe timed out); no answer from " in out
    assert "not installed" not in out and "no server" not in out
    assert "timed out: nvml, lspci, ollama, ollama-server;" in err


def test_connect_timeout_is_not_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connect that runs out of time (packets dropped) says nothing about a server there."""

    class NoAnswer(contextlib.AbstractContextManager["NoAnswer"]):
        def __init__(self, *_: object) -> None: ...
        def __exit__(self, *_: object) -> None: ...
        def settimeout(self, _: float) -> None: ...
        def connect_ex(self, _: object) -> int:
            return errno.EWOULDBLOCK  # CPython's answer when the socket's timeout expired

    monkeypatch.setattr(socket, "socket", NoAnswer)
    assert ollama_install._connect("http://192.0.2.1:11434", 0.1) == "timeout"
