"""`velollm init`: write a commented starter velollm.yaml for this machine (validated before it
is written, written atomically, an existing file only with --force and kept as .bak)."""

from __future__ import annotations

import argparse
import platform
import shutil
from typing import TYPE_CHECKING, Any

from velollm.errors import ConfigError
from velollm.output import OUT

if TYPE_CHECKING:
    from velollm.config import Profile

GIB = 1024**3


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "init", parents=[common], help="write a starter velollm.yaml for this machine",
        description="Detect this machine and write a commented starter velollm.yaml. An "
                    "existing file is left alone unless --force (then it is kept as FILE.bak).")
    p.add_argument("--profile", metavar="NAME",
                   help="profile to start from (default: cpu-only without a GPU, else balanced)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--file", metavar="PATH",
                   help="where to write (default: $VELOLLM_CONFIG, else ./velollm.yaml)")


def run(args: argparse.Namespace) -> int:
    from velollm.cli.validate import config_path
    from velollm.config import load_profile
    from velollm.config.check import check
    from velollm.config.yamlload import load_text
    from velollm.io.fileops import atomic_write

    path = config_path(args.file)
    if path.exists() and not args.force:
        raise ConfigError(f"{path} already exists; not overwriting it",
                          hint=f"--force replaces it (keeps {path.name}.bak); "
                               "--file PATH writes elsewhere")
    hardware, detected = _hardware()
    profile = args.profile or suggest_profile(hardware, detected)
    # An unknown or broken profile fails here, before anything is written.
    text = starter_text(hardware, detected, profile, load_profile(profile, path.parent))
    problems = check(load_text(text, str(path)), "config", path.parent)
    if problems:  # our own template is wrong: never write a file validate would refuse
        raise ConfigError(f"internal error: the starter file is invalid: {problems[0]}")
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup)
        OUT.info(f"kept the old file as {backup}")
    atomic_write(path, text.encode("utf-8"))
    if OUT.json_mode:
        OUT.json({"written": str(path), "profile": profile, "hardware_detected": detected})
    else:
        OUT.line(f"wrote {path} (profile {profile})")
        OUT.line(f"next: edit it, then `velollm validate {path}` and `velollm plan`")
    return 0


def _hardware() -> tuple[dict[str, Any], bool]:
    """The hardware document, or a minimal stand-in (and False) when detection is unavailable."""
    try:
        from velollm.io.hardware import detect

        doc: dict[str, Any] = detect().to_dict()
        return doc, True
    except Exception as exc:  # noqa: BLE001 - a starter file is still useful without detection
        OUT.warn(f"hardware detection failed ({type(exc).__name__}: {exc}); "
                 "the starter file uses generic defaults")
        return {"gpus": [], "cpu": {"arch": platform.machine()},
                "os": {"system": platform.system().lower()}, "memory": {}}, False


def suggest_profile(hardware: dict[str, Any], detected: bool) -> str:
    if detected and not hardware.get("gpus"):
        return "cpu-only"
    return "balanced"


def describe(hardware: dict[str, Any], detected: bool) -> str:
    if not detected:
        return "hardware not detected (run `velollm detect` to see why)"
    parts = []
    for gpu in hardware.get("gpus") or []:
        vram = gpu.get("vram_total_bytes")
        size = f", {vram / GIB:.0f} GiB" if isinstance(vram, int) else ""
        parts.append(f"{gpu.get('name') or gpu.get('vendor')}{size}")
    ram = (hardware.get("memory") or {}).get("total_bytes")
    parts.append("no GPU" if not hardware.get("gpus") else "")
    parts.append(f"{ram / GIB:.0f} GiB RAM" if isinstance(ram, int) else "")
    system = (hardware.get("os") or {}).get("system") or platform.system().lower()
    arch = (hardware.get("cpu") or {}).get("arch") or platform.machine()
    parts.append(f"{system}/{arch}")
    # Names come from drivers: keep only printable text in a comment line.
    return "".join(c for c in "; ".join(p for p in parts if p) if c.isprintable())


def starter_text(hardware: dict[str, Any], detected: bool, name: str, profile: Profile) -> str:
    from velollm.config import VerifySpec

    settings = ", ".join(f"{k}={_scalar(v)}" for k, v in profile.server.items()) or "nothing"
    # The file's verify: section replaces the profile's: it must hold the profile's values.
    verify: dict[str, Any] = {**vars(VerifySpec()), **profile.verify}
    model = f"  model: {_yaml_string(verify['model'])}\n" if verify["model"] else ""
    return _TEMPLATE.format(machine=describe(hardware, detected), profile=_yaml_string(name),
                            profile_server=settings, verify_model=model,
                            iterations=verify["iterations"],
                            max_regression=_scalar(verify["max_regression"]),
                            percent=f"{verify['max_regression'] * 100:g}")


def _scalar(value: object) -> str:
    """A value as YAML writes it (true, not Python's True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _yaml_string(value: str) -> str:
    # Profile names are simple; a path may need quotes.
    simple = value.replace("-", "").replace("_", "").replace(".", "").replace("/", "").isalnum()
    return value if simple else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_TEMPLATE = """\
# velollm.yaml: the desired state of this machine's Ollama server.
# Written by `velollm init` for: {machine}
# Check it with `velollm validate`, preview with `velollm plan`, write it with `velollm apply`.
# Editor completion: `velollm validate --schema` prints the JSON Schema (README, "Editor support").
version: 1
backend: ollama
profile: {profile}  # balanced | throughput | latency | long-context | low-memory | cpu-only | a file
target:
  kind: auto  # auto | shell | fish | systemd | systemd-user | launchd (optional path: FILE)

# Server environment on top of the profile: knob names without OLLAMA_, in lower case.
# The profile already sets: {profile_server}
# To change one, replace {{}} with keys, e.g.
#   server:
#     num_parallel: 4       # parallel requests per model (auto = the optimizer decides)
#     context_length: auto  # default num_ctx for every model; a number pins it
#     keep_alive: 30m       # idle time before a model unloads (-1 = forever, 0 = at once)
#     flash_attention: true # needed by a quantized kv_cache_type
#     kv_cache_type: q8_0   # f16 | q8_0 (about 1/2 the memory) | q4_0 (about 1/4)
#     host: 127.0.0.1:11434 # 0.0.0.0 exposes the server to your network
server: {{}}

models: []  # per-model parameters (Modelfile PARAMETERs), for example:
#  - name: llama3.1:8b
#    num_ctx: 16384

# overrides:  # one committed file for several machines: applied when every fact matches
#   - when: {{gpu_vendor: nvidia, vram_gb: ">=24"}}
#     server: {{num_parallel: 4}}

verify:  # the profile's values; a key written here replaces the profile's
{verify_model}  iterations: {iterations}
  max_regression: {max_regression}  # verify fails when the benchmark is more than {percent} % slower
"""
