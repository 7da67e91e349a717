"""The proof, end to end through the CLI against a real Ollama: plan reads the live server,
apply writes the shell file, a server started from that file has every setting, verify says so,
and a server started before the apply is reported as not restarted; a model's Modelfile
parameters count only once `ollama create` has run."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.cliutil import cli

CONFIG = """\
version: 1
backend: ollama
profile: balanced
target: {kind: shell}
server:
  num_parallel: 2
  keep_alive: 45m
  max_loaded_models: 1
  context_length: 4096
models:
  - name: tiny
verify:
  model: tiny
"""


@pytest.mark.realserver
def test_apply_then_verify_on_a_real_server(ollama_server, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            isolated_home: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    before = ollama_server()  # running before velollm wrote anything

    code, out, _ = cli(capsys, "plan", "--host", before.base_url, "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["offline"] is False
    assert plan["ollama_version"].startswith("0.5.4")
    # 0.5.4 does not read OLLAMA_CONTEXT_LENGTH: the context goes into tiny's num_ctx instead
    assert "OLLAMA_CONTEXT_LENGTH" not in plan["env"]
    assert any("OLLAMA_CONTEXT_LENGTH" in n and "0.5.13" in n for n in plan["notes"])
    # tiny was trained on 2048 tokens: the optimizer keeps num_ctx within it, and says so
    assert plan["model_params"]["tiny"]["num_ctx"] == "2048"
    ctx = next(c for c in plan["changes"] if c["key"] == "tiny num_ctx")
    assert "2048" in ctx["reason"], ctx

    code, out, _ = cli(capsys, "apply", "--host", before.base_url, "--auto-approve", "--json")
    assert code == 0 and json.loads(out)["changed"] is True
    env_file = isolated_home / ".config" / "velollm" / "ollama.env.sh"

    code, out, _ = cli(capsys, "verify", "--host", before.base_url, "--log",
                       str(before.log_path), "--skip-benchmark", "--json")
    stale = {s["env"]: s for s in json.loads(out)["settings"]}
    assert code == 4
    assert stale["OLLAMA_NUM_PARALLEL"]["status"] == "not effective"
    assert "restart" in stale["OLLAMA_NUM_PARALLEL"]["why"]

    after = ollama_server(source=env_file)  # restarted the way the file says: sourced first
    code, out, err = cli(capsys, "verify", "--host", after.base_url, "--log",
                         str(after.log_path), "--skip-benchmark", "--json")
    doc = json.loads(out)
    settings = {s["env"]: s for s in doc["settings"]}
    for name, value in (("OLLAMA_NUM_PARALLEL", "2"), ("OLLAMA_KEEP_ALIVE", "45m"),
                        ("OLLAMA_MAX_LOADED_MODELS", "1")):
        assert settings[name]["status"] == "effective", settings[name]
        assert settings[name]["wanted"] == value
    # tiny's num_ctx is in its Modelfile, which only `ollama create` bakes in (apply was not
    # given --create-models); this server's tiny was created after the Modelfile was written.
    ctx = next(m for m in doc["model_parameters"] if m["parameter"] == "num_ctx")
    assert (ctx["model"], ctx["wanted"], ctx["status"]) == ("tiny", "2048", "not effective")
    assert "run `ollama create tiny -f " in ctx["why"], ctx
    assert code == 4, (doc, err)


@pytest.mark.realserver
def test_plan_reads_the_server_at_its_host_when_two_run(ollama_server, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `ollama serve` on this machine: plan shows the environment of the one it plans for
    (matched by its listening address), never the other's, whichever started first."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text("version: 1\nbackend: ollama\ntarget: {kind: shell}\n"
                                           "server: {num_parallel: 2}\n")
    first = ollama_server({"OLLAMA_NUM_PARALLEL": "3"}, model=False)
    second = ollama_server({"OLLAMA_NUM_PARALLEL": "5"}, model=False)
    for server, value in ((second, "5"), (first, "3")):
        code, out, _ = cli(capsys, "plan", "--host", server.base_url, "--json")
        assert code == 0
        observed = {o["env"]: o for o in json.loads(out)["observed"]}
        assert observed["OLLAMA_NUM_PARALLEL"] == {
            "env": "OLLAMA_NUM_PARALLEL", "value": value,
            "source": f"running server (pid {server.pid})"}


@pytest.mark.realserver
def test_a_removed_setting_does_not_survive_a_restart_from_the_file(  # type: ignore[no-untyped-def]
        ollama_server, tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: pin max_queue, apply, start the server from the file; remove the key, apply,
    and restart the same way from a shell that still has OLLAMA_MAX_QUEUE=64 (it sourced the
    earlier file): the server runs without it. A server that still has it is reported."""
    monkeypatch.chdir(tmp_path)
    config = "version: 1\nbackend: ollama\ntarget: {kind: shell}\nserver:\n  num_parallel: 2\n"
    (tmp_path / "velollm.yaml").write_text(config + "  max_queue: 64\n")
    env_file = isolated_home / ".config" / "velollm" / "ollama.env.sh"
    planned_on = ollama_server(model=False)
    code, out, err = cli(capsys, "apply", "--host", planned_on.base_url, "--auto-approve")
    assert code == 0, out + err

    def verify(server) -> tuple[int, dict[str, dict[str, object]]]:  # type: ignore[no-untyped-def]
        code, out, _ = cli(capsys, "verify", "--host", server.base_url, "--skip-benchmark",
                           "--json")
        doc = json.loads(out)
        assert not doc["notes"], doc  # the server's environment was read
        return code, {s["env"]: s for s in doc["settings"]}

    first = ollama_server(source=env_file, model=False)
    code, settings = verify(first)
    assert code == 0 and settings["OLLAMA_MAX_QUEUE"]["status"] == "effective"

    (tmp_path / "velollm.yaml").write_text(config)  # max_queue removed
    code, out, _ = cli(capsys, "plan", "--host", first.base_url, "--json")
    removal = [(c["action"], c["key"], c["before"]) for c in json.loads(out)["changes"]]
    assert removal == [("remove", "OLLAMA_MAX_QUEUE", "64")]
    code, out, err = cli(capsys, "apply", "--host", first.base_url, "--auto-approve")
    assert code == 0, out + err

    # still running with 64, started before the apply that removed it: reported, exit 4
    code, settings = verify(first)
    gone = settings["OLLAMA_MAX_QUEUE"]
    assert code == 4
    assert (gone["wanted"], gone["observed"], gone["status"]) == (None, "64", "not effective")
    assert "started before velollm removed it" in str(gone["why"])
    code, out, _ = cli(capsys, "verify", "--host", first.base_url, "--skip-benchmark")
    row = next(line.split() for line in out.splitlines() if "OLLAMA_MAX_QUEUE" in line)
    assert row[:3] == ["OLLAMA_MAX_QUEUE", "(unset)", "64"]
    assert "not effective: OLLAMA_MAX_QUEUE (still set)" in out.splitlines()[-1]

    # restarted from a shell that inherited 64 and sources the new file: gone, all effective
    restarted = ollama_server({"OLLAMA_MAX_QUEUE": "64"}, source=env_file, model=False)
    environ = Path(f"/proc/{restarted.pid}/environ").read_bytes().split(b"\0")
    assert b"OLLAMA_NUM_PARALLEL=2" in environ
    assert not [e for e in environ if e.startswith(b"OLLAMA_MAX_QUEUE=")]
    code, settings = verify(restarted)
    assert code == 0, settings
    assert "OLLAMA_MAX_QUEUE" not in settings
    assert settings["OLLAMA_NUM_PARALLEL"]["status"] == "effective"

    # started with 64 without the file: the value came from elsewhere, and verify says so
    elsewhere = ollama_server({"OLLAMA_MAX_QUEUE": "64", "OLLAMA_NUM_PARALLEL": "2"},
                              model=False)
    code, settings = verify(elsewhere)
    assert code == 4
    assert settings["OLLAMA_MAX_QUEUE"]["status"] == "not effective"
    assert "environment that started it" in str(settings["OLLAMA_MAX_QUEUE"]["why"])


SERVER_ONLY = """\
version: 1
backend: ollama
profile: balanced
target: {kind: shell}
server:
  num_parallel: 2
  keep_alive: 45m
  max_loaded_models: 1
"""


@pytest.mark.realserver
def test_verify_checks_the_model_parameters_apply_wrote(  # type: ignore[no-untyped-def]
        ollama_server, tmp_path: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A parameter added for a model that is already there: apply writes its Modelfile, verify
    says it is not in force until `ollama create` runs, then that it is (/api/show; 0.5.4 has no
    /api/ps context_length, so /api/show alone decides)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(SERVER_ONLY)
    first = ollama_server(model=False)
    code, out, _ = cli(capsys, "apply", "--host", first.base_url, "--auto-approve", "--json")
    assert code == 0 and not any(f.endswith(".Modelfile") for f in json.loads(out)["files"])
    server = ollama_server(source=isolated_home / ".config" / "velollm" / "ollama.env.sh")

    (tmp_path / "velollm.yaml").write_text(SERVER_ONLY + "models:\n  - name: tiny\n"
                                                         "    num_ctx: 1024\n")
    code, out, _ = cli(capsys, "apply", "--host", server.base_url, "--auto-approve", "--json")
    applied = json.loads(out)
    assert code == 0 and [f for f in applied["files"] if f.endswith(".Modelfile")], applied
    [create] = [c for c in applied["follow_up"] if c.startswith("ollama create tiny ")]

    code, out, err = cli(capsys, "verify", "--host", server.base_url, "--log",
                         str(server.log_path), "--skip-benchmark", "--json")
    doc = json.loads(out)
    ctx = next(m for m in doc["model_parameters"] if m["parameter"] == "num_ctx")
    assert (ctx["model"], ctx["wanted"], ctx["status"]) == ("tiny", "1024", "not effective"), doc
    assert ctx["why"].startswith(f"`ollama create` has not been run: run `{create}`")
    assert code == 4, (doc, err)

    # The printed command, with the test's binary for `ollama`, against this server.
    argv = [str(ollama_server.runtime.binary), *create.split()[1:]]
    subprocess.run(argv, env={**os.environ, **ollama_server.runtime.env,
                              "OLLAMA_HOST": server.base_url.removeprefix("http://")},
                   check=True, capture_output=True, timeout=120)
    code, out, err = cli(capsys, "verify", "--host", server.base_url, "--log",
                         str(server.log_path), "--skip-benchmark", "--json")
    doc = json.loads(out)
    ctx = next(m for m in doc["model_parameters"] if m["parameter"] == "num_ctx")
    assert (ctx["status"], ctx["observed"]) == ("effective", "1024"), doc
    assert {m["status"] for m in doc["model_parameters"]} == {"effective"}, doc
    assert code == 0, (doc, err)

    code, out, _ = cli(capsys, "verify", "--host", server.base_url, "--skip-benchmark")
    assert any(line.split()[:4] == ["tiny", "num_ctx", "1024", "1024"]
               for line in out.splitlines()), out
