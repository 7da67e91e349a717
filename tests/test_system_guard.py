"""The guard of tests/system_guard.py: tests see only their own processes and never the real
systemctl/launchctl, so a machine with Ollama running still gets a deterministic suite."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from velollm.backends.ollama.current import find_server_processes


def test_proc_lists_only_processes_this_run_started(tmp_path: Path) -> None:
    # /bin/sh named "ollama", running the script "serve": its cmdline reads `ollama serve`
    # (the builtin `read` waits on our pipe: sh forks nothing that could share its cmdline)
    (tmp_path / "serve").write_text("read line\n")
    child = subprocess.Popen(["ollama", "serve"], executable="/bin/sh", cwd=tmp_path,
                             stdin=subprocess.PIPE, start_new_session=True)
    try:
        cmdline = Path(f"/proc/{child.pid}/cmdline")
        for _ in range(500):  # right after exec the kernel may show an empty cmdline
            if cmdline.read_bytes():
                break
            time.sleep(0.01)
        pids = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}
        assert child.pid in pids
        assert 1 not in pids  # init: never started by us, so never seen
        found = find_server_processes()
        assert [p.pid for p in found] == [child.pid]
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # its own session: pgid == pid
        child.communicate()


def test_real_systemctl_is_refused_but_a_fake_one_runs(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("systemctl"):
        with pytest.raises(PermissionError, match="real_system"):
            subprocess.run(["systemctl", "--version"], check=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text("#!/bin/sh\necho fake systemctl \"$@\"\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(["systemctl", "show", "ollama"], capture_output=True, text=True,
                          check=True)
    assert done.stdout == "fake systemctl show ollama\n"


@pytest.mark.real_system
def test_a_test_can_ask_for_the_real_proc() -> None:
    pids = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}
    assert os.getpid() in pids  # pytest itself is not its own descendant: seen only unguarded
