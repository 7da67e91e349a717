"""Terraform-style text report of a Plan (the JSON twin is Plan.to_dict())."""

from __future__ import annotations

import json

from velollm.core.planner import SYMBOL, Change, ParamValue, Plan
from velollm.core.secrets import mask_secrets
from velollm.output import Output
from velollm.report.layout import wrap_text

_COLOR = {"add": "green", "change": "yellow", "remove": "red"}


def server_title(backend: str) -> str:
    """The name users know the plan's server by ("Ollama"); the raw name if it is not known."""
    from velollm.backends import BACKENDS

    known = BACKENDS.get(backend)
    return backend if known is None else known.title


def no_changes(backend: str) -> str:
    return f"No changes. Your {server_title(backend)} configuration matches velollm.yaml."


def summary_line(plan: Plan) -> str:
    if not plan.has_changes:
        return no_changes(plan.backend)
    c = plan.counts
    return f"Plan: {c['add']} to add, {c['change']} to change, {c['remove']} to remove."


def _shown(value: ParamValue | None) -> str:
    # Several stop sequences as velollm.yaml's flow list: the quotes show where each one ends.
    return json.dumps(list(value), ensure_ascii=False) if isinstance(value, tuple) else str(value)


def _body(change: Change) -> str:
    before, after = _shown(change.before), _shown(change.after)
    if change.scope == "file":
        return f"{change.key} ({before if change.action == 'remove' else 'file edited by hand'})"
    if change.action == "add":
        return f"{change.key} = {after}"
    if change.action == "change":
        # Output masks credentials: say so when they are all that changed.
        masked_alike = before != after and mask_secrets(before) == mask_secrets(after)
        return f"{change.key}: {before} -> {after}" + (" (the credentials in it change)"
                                                       if masked_alike else "")
    return f"{change.key} (was {before})"


def render_plan(plan: Plan, out: Output) -> None:
    """-q (out.quiet): only the change lines, the warnings and the last line."""
    if out.quiet:
        for change in plan.changes:
            out.line(f"  {_symbol(change, out)} {_body(change)}")
        _end(plan, out, gap=False)
        return
    where = f"{plan.target_kind} target ({plan.target_path})"
    version = plan.ollama_version or "unknown version"
    title = server_title(plan.backend)
    _prose(out, f"Planning for {title} {version}, {where}.")
    if plan.offline:
        _prose(out, f"Offline estimate: the {title} server was not reachable, so model sizes "
               "come from velollm's built-in table.", style="dim")
    if plan.changes:
        out.line("")
        out.line("velollm will make these changes:")
    for change in plan.changes:
        out.line(f"  {_symbol(change, out)} {_body(change)}")
        _prose(out, f"      # {change.reason}", indent="        ", style="dim")
    _pending(plan, out)
    pending = {p["env"] for p in plan.pending}
    observed = [o for o in plan.observed if o["env"] not in pending]
    if observed:
        out.line("")
        out.line("In effect now (until the server restarts with the new settings):")
        for o in observed:
            out.line(f"  {o['env']}={o['value']}  ({o['source']})")
    if plan.notes:
        out.line("")
        out.line("Notes:")
        for note in plan.notes:
            _prose(out, f"  - {note}", indent="    ")
    if plan.changes and plan.files:
        _files(plan, out)
    _end(plan, out, gap=True)


def _prose(out: Output, text: str, *, indent: str = "", style: str | None = None) -> None:
    """A sentence of the report, wrapped to the terminal (80 columns without one)."""
    for line in wrap_text(text, indent=indent):
        out.line(out.style(line, style) if style else line)


def _symbol(change: Change, out: Output) -> str:
    return out.style(SYMBOL[change.action], _COLOR[change.action], "bold")


def _setting(name: str, value: str | None) -> str:
    return f"{name} unset" if value is None else f"{name}={value}"


def _pending(plan: Plan, out: Output) -> None:
    """Pending restart: the files hold what velollm.yaml wants, the running server does not."""
    if not plan.pending:
        return
    out.line("")
    out.line(f"Pending restart: the {plan.pending[0]['source']} still has:")
    for p in plan.pending:
        out.line(f"  {_setting(str(p['env']), p['now'])} (wants {p['wants'] or 'unset'})")
    if plan.pending[0]["restart"]:
        out.line(f"  restart it: {plan.pending[0]['restart']}")


def _end(plan: Plan, out: Output, *, gap: bool) -> None:
    for warning in plan.warnings:
        out.warn(warning)
    if gap:
        out.line("")
    if plan.pending:
        n = len(plan.pending)
        out.line(f"The {plan.pending[0]['source']} is not running with these settings yet "
                 f"({n} setting{'s' if n > 1 else ''} pending restart).")
    out.line(out.style(summary_line(plan), "bold"))


def _files(plan: Plan, out: Output) -> None:
    out.line("")
    out.line("Files:")
    for f in plan.files:
        out.line(f"  {f.path} ({f.kind})")
        for cmd in f.follow_up:
            out.line(out.style(f"      then: {cmd}", "dim"))
    for path in plan.retired_files:
        out.line(f"  {path} (removed)")
