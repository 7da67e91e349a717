"""OS, kernel, architecture, and whether we run inside a container or WSL.

Container and WSL hints matter for planning: a container sees the host's GPUs only when passed through,
and a systemd drop-in written inside one changes nothing on the host.
"""

from __future__ import annotations

import platform

from velollm.core.hardware import OsInfo, Probe
from velollm.io.hardware.cpu import normalize_arch
from velollm.io.hardware.runner import ProbeContext

# Substrings of /proc/1/cgroup (cgroup v1) that name the runtime.
_CGROUP_HINTS = (("kubepods", "kubernetes"), ("docker", "docker"), ("containerd", "containerd"),
                 ("lxc", "lxc"), ("libpod", "podman"))


def probe(ctx: ProbeContext) -> tuple[OsInfo, Probe]:
    system = ctx.system or platform.system().lower()
    info = OsInfo(system=system, release=_release(ctx, system), kernel=platform.release(),
                  arch=normalize_arch(platform.machine()), container=detect_container(ctx),
                  wsl=detect_wsl(ctx))
    return info, Probe("os", "ok", f"{system} {info.kernel}")


def _release(ctx: ProbeContext, system: str) -> str:
    if system == "darwin":
        return f"macOS {platform.mac_ver()[0]}".strip()
    if system == "linux":
        return os_release_name(ctx) or platform.release()
    return platform.version()


def os_release_name(ctx: ProbeContext) -> str | None:
    for name in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = ctx.path(name).read_text(encoding="utf-8")
        except OSError:
            continue
        fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        pretty = fields.get("PRETTY_NAME") or fields.get("NAME")
        if pretty:
            return pretty.strip().strip("\"'")
    return None


def detect_container(ctx: ProbeContext) -> str | None:
    if ctx.environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if ctx.path("/.dockerenv").exists():
        return "docker"
    if ctx.path("/run/.containerenv").exists():
        return "podman"
    # systemd-nspawn, podman and LXC set `container=` in PID 1's environment (and usually ours).
    if ctx.environ.get("container"):
        return ctx.environ["container"]
    try:
        cgroup = ctx.path("/proc/1/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for needle, name in _CGROUP_HINTS:
        if needle in cgroup:
            return name
    return None


def detect_wsl(ctx: ProbeContext) -> bool:
    if ctx.environ.get("WSL_DISTRO_NAME"):
        return True
    try:
        release = ctx.path("/proc/sys/kernel/osrelease").read_text(encoding="utf-8")
    except OSError:
        return False
    return "microsoft" in release.lower()
