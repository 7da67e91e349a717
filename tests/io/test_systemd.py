"""Generic systemd facts: unit search path, drop-in order, the cgroup check, Environment= syntax."""

from __future__ import annotations

from pathlib import Path

from velollm.io import systemd


def test_parse_systemd_environment_quoting() -> None:
    text = ('[Service]\nEnvironment="OLLAMA_HOST=0.0.0.0:11434"\n'
            "Environment=OLLAMA_KEEP_ALIVE=30m \"OLLAMA_ORIGINS=a b\"\n# Environment=X=1\n")
    assert systemd.parse_environment(text) == {
        "OLLAMA_HOST": "0.0.0.0:11434", "OLLAMA_KEEP_ALIVE": "30m", "OLLAMA_ORIGINS": "a b"}


def test_parse_systemctl_show_output() -> None:
    shown = "Environment=PATH=/usr/bin OLLAMA_NUM_PARALLEL=4 \"OLLAMA_MODELS=/srv/my models\"\n"
    assert systemd.parse_environment(shown) == {
        "PATH": "/usr/bin", "OLLAMA_NUM_PARALLEL": "4", "OLLAMA_MODELS": "/srv/my models"}


def _write(root: Path, path: str, text: str = "[Service]\n") -> None:
    (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / path.lstrip("/")).write_text(text)


def test_unit_file_is_the_first_in_the_search_path(tmp_path: Path) -> None:
    assert systemd.unit_file("x.service", root=tmp_path) is None
    _write(tmp_path, "/lib/systemd/system/x.service")
    _write(tmp_path, "/run/systemd/system/x.service")
    assert systemd.unit_file("x.service", root=tmp_path) == Path("/run/systemd/system/x.service")
    assert systemd.unit_exists("x.service", root=tmp_path)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    (tmp_path / "etc/systemd/system/y.service").symlink_to("/dev/null")  # masked
    assert not systemd.unit_exists("y.service", root=tmp_path)


def test_dropins_sorted_by_name_across_dirs_and_etc_hides_vendor(tmp_path: Path) -> None:
    _write(tmp_path, "/usr/lib/systemd/system/x.service.d/10-vendor.conf")
    _write(tmp_path, "/usr/lib/systemd/system/x.service.d/50-same.conf")
    _write(tmp_path, "/etc/systemd/system/x.service.d/50-same.conf")
    _write(tmp_path, "/etc/systemd/system/x.service.d/override.conf")
    _write(tmp_path, "/etc/systemd/system/x.service.d/README")
    assert systemd.dropins("x.service", root=tmp_path) == [
        Path("/usr/lib/systemd/system/x.service.d/10-vendor.conf"),
        Path("/etc/systemd/system/x.service.d/50-same.conf"),
        Path("/etc/systemd/system/x.service.d/override.conf")]
    assert systemd.dropin_dir("x.service") == Path("/etc/systemd/system/x.service.d")


def test_in_unit_cgroup_matches_whole_path_components(tmp_path: Path) -> None:
    for pid, text in ((1, "0::/system.slice/x.service\n"),
                      (2, "12:pids:/system.slice/x.service\n1:name=systemd:/system.slice/x.service\n"),
                      (3, "0::/system.slice/my-x.service\n"),
                      (4, "0::/user.slice/user-1000.slice/session-2.scope\n")):
        _write(tmp_path, f"/{pid}/cgroup", text)
    assert [systemd.in_unit_cgroup(pid, "x.service", tmp_path) for pid in (1, 2, 3, 4, 5)] == [
        True, True, False, False, False]
