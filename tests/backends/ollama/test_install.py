"""Ollama install facts: binary + version, systemd/launchd/app, and server reachability."""

from __future__ import annotations

import socket
from pathlib import Path

from pytest_httpserver import HTTPServer

from tests.io.hardware.hwfakes import ToolBox
from velollm.backends.ollama import install as ollama_install


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_binary_and_version_without_a_server(tmp_path: Path) -> None:
    box = ToolBox(tmp_path)
    box.script("ollama", 'echo "Warning: could not connect to a running Ollama instance" >&2\n'
                         'echo "Warning: client version is 0.5.7" >&2')
    install, probe = ollama_install.probe_install(box.ctx(), 2.0)
    assert install.path == str(box.bin / "ollama") and install.version == "0.5.7"
    assert install.managed_by == "none" and probe.status == "ok"


def test_version_line_with_a_server() -> None:
    assert ollama_install.parse_version("ollama version is 0.12.3\n") == "0.12.3"
    assert ollama_install.parse_version("garbage") is None


def test_not_installed(tmp_path: Path) -> None:
    install, probe = ollama_install.probe_install(ToolBox(tmp_path).ctx(), 2.0)
    assert install.path is None and install.managed_by == "none"
    assert probe.status == "absent"


def test_systemd_unit_and_dropins_in_systemd_order(tmp_path: Path) -> None:
    box = ToolBox(tmp_path)
    etc = tmp_path / "etc/systemd/system"
    (etc / "ollama.service.d").mkdir(parents=True)
    (etc / "ollama.service").write_text("[Service]\nExecStart=/usr/bin/ollama serve\n")
    (etc / "ollama.service.d/override.conf").write_text('[Service]\nEnvironment="A=1"\n')
    (etc / "ollama.service.d/README").write_text("not a drop-in")
    vendor = tmp_path / "usr/lib/systemd/system/ollama.service.d"
    vendor.mkdir(parents=True)
    (vendor / "10-gpu.conf").write_text("[Service]\n")
    install, _ = ollama_install.probe_install(box.ctx(), 2.0)
    assert install.managed_by == "systemd"
    assert install.systemd_unit == "/etc/systemd/system/ollama.service"
    assert install.systemd_dropins == ("/usr/lib/systemd/system/ollama.service.d/10-gpu.conf",
                                       "/etc/systemd/system/ollama.service.d/override.conf")


def test_vendor_unit_only(tmp_path: Path) -> None:
    unit = tmp_path / "usr/lib/systemd/system/ollama.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\n")
    install, _ = ollama_install.probe_install(ToolBox(tmp_path).ctx(), 2.0)
    assert install.systemd_unit == "/usr/lib/systemd/system/ollama.service"


def test_macos_app_and_launchd(tmp_path: Path) -> None:
    box = ToolBox(tmp_path)
    (tmp_path / "Applications/Ollama.app/Contents").mkdir(parents=True)
    install, _ = ollama_install.probe_install(box.ctx(system="darwin"), 2.0)
    assert install.managed_by == "app"
    agents = tmp_path / "home/Library/LaunchAgents"
    agents.mkdir(parents=True)
    (agents / "homebrew.mxcl.ollama.plist").write_text("<plist/>")
    install, _ = ollama_install.probe_install(box.ctx(system="darwin"), 2.0)
    assert install.managed_by == "launchd"


def test_server_reachable_via_ollama_host(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.12.3"})
    ctx = ToolBox(tmp_path).ctx(environ={"OLLAMA_HOST": f"127.0.0.1:{httpserver.port}"})
    server, probe = ollama_install.probe_server(ctx, 2.0)
    assert server.reachable and server.version == "0.12.3"
    assert server.host == f"http://127.0.0.1:{httpserver.port}" and probe.status == "ok"


def test_server_answering_an_error_is_not_reachable(tmp_path: Path,
                                                    httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/version").respond_with_data("boom", status=500)
    ctx = ToolBox(tmp_path).ctx(environ={"OLLAMA_HOST": f"http://127.0.0.1:{httpserver.port}"})
    server, probe = ollama_install.probe_server(ctx, 2.0)
    assert not server.reachable and probe.status == "error" and "HTTP 500" in probe.detail


def test_nothing_listening_is_absent(tmp_path: Path) -> None:
    ctx = ToolBox(tmp_path).ctx(environ={"OLLAMA_HOST": f"127.0.0.1:{_free_port()}"})
    server, probe = ollama_install.probe_server(ctx, 2.0)
    assert not server.reachable and probe.status == "absent"


def test_ipv6_and_name_hosts_with_nothing_listening(tmp_path: Path) -> None:
    port = _free_port()
    for value in (f"[::1]:{port}", f"localhost:{port}"):
        ctx = ToolBox(tmp_path).ctx(environ={"OLLAMA_HOST": value})
        server, probe = ollama_install.probe_server(ctx, 1.0)
        assert not server.reachable and probe.status == "absent", value


def test_hanging_ollama_version_is_a_timeout_not_a_wait(tmp_path: Path) -> None:
    box = ToolBox(tmp_path)
    box.script("ollama", "sleep 60")
    install, probe = ollama_install.probe_install(box.ctx(), 0.5)
    assert install.path is not None and install.version is None
    assert probe.status == "timeout" and "did not answer within 0.5 s" in probe.detail
