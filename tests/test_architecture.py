"""The shape of the house, checked: one importer per external system, the pure core imports no
I/O and no backend, a backend is reached only through the table, no import cycles, small modules.

Imports are read with ast (module level and inside functions alike; `if TYPE_CHECKING:` blocks are
types only and skipped), so a deferred import counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "velollm"
MAX_LINES = 300

# External system -> the one module allowed to import it.
HOMES = {
    "requests": {"velollm/io/http.py"},
    "pynvml": {"velollm/io/hardware/nvml.py"},
    "psutil": {"velollm/io/hardware/memory.py"},
    "jinja2": {"velollm/io/render.py"},
    "deepdiff": {"velollm/core/planner.py"},
    "yaml": {"velollm/config/yamlload.py"},
    "jsonschema": {"velollm/io/schemas.py"},
    "shtab": {"velollm/cli/completion.py"},
    "http.server": {"velollm/io/webserver.py"},  # the dashboard's server (stdlib)
    "gguf": {"velollm/backends/llamacpp/modelinfo.py"},
    # Each runs its own external tools: follow-up commands a plan names (systemctl
    # daemon-reload, ollama create), the service's environment (systemctl show, launchctl
    # getenv), and hardware detection (nvidia-smi, rocm-smi, lspci, sysctl, system_profiler).
    "subprocess": {"velollm/app/applying.py", "velollm/backends/ollama/current.py",
                   "velollm/io/hardware/runner.py"},
}
# External tool -> the modules that run it (an argv list literal starting with its name).
TOOLS = {
    "systemctl": {"velollm/backends/ollama/current.py"},
    "launchctl": {"velollm/backends/ollama/current.py"},
    "ollama": {"velollm/backends/ollama/install.py"},
    "nvidia-smi": {"velollm/io/hardware/nvidia_smi.py"},
    "rocm-smi": {"velollm/io/hardware/rocm.py"},
    "amd-smi": {"velollm/io/hardware/rocm.py"},
    "lspci": {"velollm/io/hardware/lspci.py"},
    "system_profiler": {"velollm/io/hardware/apple.py"},
    "sysctl": {"velollm/io/hardware/cpu.py", "velollm/io/hardware/apple.py"},
}
# Rooms the pure core may import besides itself.
CORE_MAY_IMPORT = {"velollm.errors"}
# Outside a backend's folder, only the table names it. The hardware document still has an
# `ollama` install section (schemas/hardware.schema.json), probed by detect.
BACKEND_IMPORT_EXCEPTIONS = {"velollm/io/hardware/detector.py"}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        yield ".".join(parts), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, name: str, known: set[str] = frozenset()) -> set[str]:  # type: ignore[assignment]
    """Every module `path` imports at run time: `from pkg import sub` counts as importing the
    submodule `pkg.sub` (when `known` has it), anything else as importing `pkg`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names}
            found |= subs & known
            if subs - known:
                found.add(base)
        stack.extend(ast.iter_child_nodes(node))
    return found


NAMES = {name for name, _ in modules()}
GRAPH = {name: imports(path, name, NAMES) for name, path in modules()}
FILES = {name: str(path.relative_to(ROOT)) for name, path in modules()}


def internal(name: str) -> set[str]:
    return {m for m in GRAPH[name] if m in NAMES and m != name}


def test_one_importer_per_external_system() -> None:
    found: dict[str, set[str]] = {lib: set() for lib in HOMES}
    for name, deps in GRAPH.items():
        for lib in HOMES:
            if any(d == lib or d.startswith(f"{lib}.") for d in deps):
                found[lib].add(FILES[name])
    assert found == HOMES


def argv_tools(path: Path) -> set[str]:
    """Names of the tools `path` builds an argv for: list/tuple literals starting with one."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts and isinstance(
                node.elts[0], ast.Constant) and node.elts[0].value in TOOLS:
            found.add(str(node.elts[0].value))
    return found


def test_each_external_tool_is_run_from_one_home() -> None:
    runs: dict[str, set[str]] = {tool: set() for tool in TOOLS}
    for name, path in modules():
        for tool in argv_tools(path):
            runs[tool].add(FILES[name])
    assert runs == TOOLS


def test_the_core_is_pure() -> None:
    """velollm/core/ imports only itself and errors: no I/O, no config, no backend."""
    bad = {name: sorted(d for d in internal(name)
                        if not d.startswith("velollm.core") and d not in CORE_MAY_IMPORT
                        and d != "velollm")
           for name in NAMES if name.startswith("velollm.core")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_a_backend_is_reached_only_through_the_table() -> None:
    out: dict[str, list[str]] = {}
    for name in NAMES:
        if name.startswith("velollm.backends.") and name.count(".") >= 2 and \
                name.split(".")[2] not in ("base", "wire"):
            own = ".".join(name.split(".")[:3])
            others = [d for d in internal(name) if d.startswith("velollm.backends.")
                      and d.count(".") >= 2 and d.split(".")[2] not in ("base", "wire")
                      and not d.startswith(own)]
        elif name != "velollm.backends" and FILES[name] not in BACKEND_IMPORT_EXCEPTIONS:
            others = [d for d in internal(name) if d.startswith("velollm.backends.")
                      and d.split(".")[2] not in ("base", "wire")]
        else:
            continue
        if others:
            out[FILES[name]] = sorted(others)
    assert out == {}


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = stack[stack.index(v):]
            del stack[stack.index(v):]
            groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [g for g in groups if len(g) > 1]


def test_cycle_finder_finds_a_cycle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert strongly_connected({n: internal(n) for n in NAMES}) == []


def test_modules_are_small() -> None:
    big = {FILES[n]: len(p.read_text(encoding="utf-8").splitlines())
           for n, p in modules()}
    assert {f: n for f, n in big.items() if n > MAX_LINES} == {}
