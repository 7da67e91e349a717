"""The text report of `velollm status` (its --json twin is the document itself)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from velollm.output import Output
from velollm.report.layout import fit_table, wrap_text

_DRIFT = {"none": ("matches what velollm wrote", "green"),
          "changed": ("changed outside velollm", "red"),
          "missing": ("missing", "red"),
          "unreadable": ("cannot be read", "yellow")}
_STATUS = {"effective": "green", "not effective": "red", "unknown": "yellow"}


def local_time(iso: str | None) -> str:
    """An ISO 8601 time as this machine's local time, e.g. 2024-05-01 14:03:12 CEST."""
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    except ValueError:
        return iso


def _table(out: Output, rows: Sequence[tuple[str, ...]], colours: Sequence[str], at: int,
           prose_last: bool = True) -> None:
    """Columns under a header row that fit the terminal (the last column wraps first when it
    is prose); column `at` of row i+1 in colour colours[i]."""
    flex = len(rows[0]) - 1 if prose_last else None
    for i, lines in enumerate(fit_table(rows, indent=2, flex=flex)):
        text = "\n".join(lines)
        out.line(text.replace(rows[i][at], out.style(rows[i][at], colours[i - 1]), 1) if i
                 else text)


def render(doc: dict[str, Any], out: Output) -> None:
    if not doc["applied"]:
        out.line(doc["msg"])
        out.line(doc["hint"])
        return
    plan = f" (plan {doc['plan_id']})" if doc["plan_id"] else ""
    for line in wrap_text(f"Applied {local_time(doc['applied_at'])}{plan}: backend "
                          f"{doc['backend']['title']}, target {doc['target'] or '-'}", indent="  "):
        out.line(line)
    out.line()
    out.line("Files:")
    rows = [("path", "target", "written", "state")]
    rows += [(f["path"], f["target"] or "-", local_time(f["written_at"]), _DRIFT[f["drift"]][0])
             for f in doc["files"]]
    _table(out, rows, [_DRIFT[f["drift"]][1] for f in doc["files"]], 3)
    out.line()
    server = doc["server"]
    title = doc["backend"]["title"]
    if server["reachable"]:
        pid = f" (pid {server['pid']})" if server.get("pid") else ""
        out.line(f"Server: {title} {server['version']} at {server['url']}{pid}")
    else:
        out.line(f"Server: {out.style(server['error'], 'yellow')}")  # not reachable at URL
    _settings(doc, out)
    for note in doc["notes"]:
        out.line(f"  note: {note}")
    out.line()
    out.line(out.style(_summary(doc), "bold"))


def _settings(doc: dict[str, Any], out: Output) -> None:
    if doc["settings"]:
        # a server that is down is the one reason for every row: the Server line says it once
        one_reason = not doc["server"]["reachable"] and len({s["why"] for s in doc["settings"]}) == 1
        rows = [("setting", "applied", "observed", "status", "why")[:4 if one_reason else 5]]
        rows += [(s["env"], s["wanted"], "-" if s["observed"] is None else s["observed"],
                  s["status"], s["why"])[:len(rows[0])] for s in doc["settings"]]
        _table(out, rows, [_STATUS[s["status"]] for s in doc["settings"]], 3,
               prose_last=not one_reason)
    for model, params in sorted(doc["model_params"].items()):
        values = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
        out.line(f"  model {model}: {values} (in its Modelfile; not checked on the server)")


def _summary(doc: dict[str, Any]) -> str:
    drifted = sum(f["drift"] != "none" for f in doc["files"])
    files = (f"{drifted} of {len(doc['files'])} file(s) not as velollm wrote them" if drifted
             else f"{len(doc['files'])} file(s) as velollm wrote them")
    counts = {k: sum(s["status"] == k for s in doc["settings"])
              for k in ("effective", "not effective", "unknown")}
    settings = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no server settings"
    return f"status: {files}; settings: {settings}"
