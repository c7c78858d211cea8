"""Plain-text views of plans, outcomes, verifications, the catalog and the audit history (pure).

Each ``*_lines`` builder returns lines; the CLI prints them. JSON output does not come through
here: it is the objects' ``to_dict()``.
"""

from __future__ import annotations

import shlex
from typing import Any

from perfbook.fix.base import Outcome, Plan
from perfbook.fix.verify import VerifyResult
from perfbook.report.text import hanging_lines, table_blocks


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    text = str(v)
    return shlex.quote(text) if " " in text and len(text) < 100 else text


def row_text(row: dict[str, Any]) -> str:
    """``pid=12 user=app state='idle in transaction'`` (None values left out)."""
    return " ".join(f"{k}={_value(v)}" for k, v in row.items() if v is not None)


def command_of(plan: Plan) -> str:
    """The perfbook command that applies ``plan``'s action with its parameters."""
    parts = ["perfbook", "fix", plan.action]
    for key, value in plan.params.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        else:
            parts += [flag, shlex.quote(",".join(map(str, value)) if isinstance(value, list) else str(value))]
    return " ".join(parts)


def plan_lines(plan: Plan, *, dry_run: bool) -> list[str]:
    """The plan as a person reads it before saying yes."""
    lines = [f"{plan.action} on {plan.target}", f"  plan: {plan.summary}"]
    if plan.affects:
        lines.append("  affects:")
        lines += [f"    {row_text(r)}" for r in plan.affects]
    if plan.steps:
        lines.append("  steps (exactly these):")
        lines += [f"    {s}" for s in plan.steps]
    lines += [f"  note: {n}" for n in plan.notes]
    if plan.refusal:
        lines.append(f"  refused: {plan.refusal}")
    elif plan.nothing_to_do:
        lines.append("  nothing to do")
    elif dry_run:
        lines.append(f"  dry run: nothing changed. To apply: {command_of(plan)} --apply")
    return lines


def outcome_lines(outcome: Outcome, replanned: str | None = None) -> list[str]:
    """What was and was not done, and the figures the fix itself measured."""
    lines = [f"re-planned: {replanned}"] if replanned else []
    lines.append(f"{outcome.status}: {outcome.summary}")
    lines += [f"  done: {d}" for d in outcome.done]
    lines += [f"  not done: {d}" for d in outcome.not_done]
    lines += [
        f"  {name}: {_value(pair.get('before'))} -> {_value(pair.get('after'))}"
        for name, pair in outcome.figures.items()
    ]
    return lines


def verify_lines(result: VerifyResult | None) -> list[str]:
    """Before / after of the findings and KPIs, and whether the finding is gone."""
    if result is None:
        return []
    lines = [f"verify ({', '.join(result.probes)}, {result.window_s:g} s window):"]
    lines += [
        f"  {f['finding']}: {_value(f['before'])} -> {_value(f['after'])}"
        + (f" (limit {_value(f['limit'])})" if f.get("limit") is not None else "")
        for f in result.findings
    ]
    lines += [
        f"  {name}: {_value(v['before'])} -> {_value(v['after'])}"
        for name, v in result.kpis.items()
        if v["before"] is not None or v["after"] is not None
    ]
    if result.note:
        lines.append(f"  {result.note}")
    if result.gone is not None:
        lines.append(f"  finding gone: {'yes' if result.gone else 'NO'}")
    return lines


_METAVAR = {"str": "TEXT", "int": "N", "float": "NUMBER", "flag": "", "list": "A[,B…]", "int_list": "N[,N…]"}


def param_usage(p: dict[str, Any]) -> str:
    """``--table A[,B…]``, ``--full``.

    >>> param_usage({"flag": "--older-than-s", "kind": "float"})
    '--older-than-s NUMBER'
    """
    meta = _METAVAR.get(p["kind"], "VALUE")
    return f"{p['flag']} {meta}" if meta else p["flag"]


def _param_help(p: dict[str, Any]) -> str:
    if p["required"]:
        return f"{p['help']} (required)"
    return p["help"] + (f" (default {_value(p['default'])})" if p["default"] not in (None, False) else "")


def catalog_lines(rows: list[dict[str, Any]], width: int = 100) -> list[str]:
    """``perfbook fix --list``: one block per action with its parameters, wrapped within ``width``."""
    lines = []
    for row in rows:
        lines += hanging_lines(f"{row['id']:<24}", row["changes"], width)
        for p in row["params"]:
            lines += hanging_lines(f"{param_usage(p):<27} ", _param_help(p), width, indent=4)
    lines += ["", "Each action's parameters, safety rules and examples: perfbook fix ACTION --help"]
    return lines


def manual_lines(doc: dict[str, Any], width: int = 80) -> list[str]:
    """``perfbook fix ACTION --help``: usage, what it changes, parameters, safety rules, examples."""
    required = " ".join(param_usage(p) for p in doc["params"] if p["required"])
    usage = f"perfbook fix {doc['id']} {required + ' ' if required else ''}[PARAMETERS] [--apply --yes]"
    lines = hanging_lines("Usage: ", usage, width) + [""] + hanging_lines("", doc["summary"], width)
    lines += (
        [""]
        + hanging_lines("Changes: ", doc["changes"], width)
        + [f"Layer:   {doc['layer']}", "", "Parameters:"]
    )
    for p in doc["params"]:
        lines += hanging_lines(f"{param_usage(p):<27} ", _param_help(p), width, indent=2)
    if not doc["params"]:
        lines.append("  (none)")
    common = [
        ("--apply", "perform the plan (asks on a terminal; --yes in scripts); without it: a dry run"),
        ("--reason TEXT", "why (stored with the apply, shown by fix history)"),
        ("--ticket ID", "the ticket it answers (stored with the apply)"),
        ("--window 2s", "verify window (the fix's probes rerun after the apply)"),
        ("--no-verify", "do not rerun probes after --apply"),
        ("--json", "one JSON document on stdout"),
    ]
    lines += ["", "Common to every fix:"]
    for flag, what in common:
        lines += hanging_lines(f"{flag:<27} ", what, width, indent=2)
    lines += ["", "Safety:"]
    for para in doc["safety"] + [
        "Dry run unless --apply. Every plan and apply is audited: perfbook fix history."
    ]:
        lines += hanging_lines("", " ".join(para.split()), width, indent=2)
    example = " ".join(["perfbook fix", doc["id"], *(param_usage(p) for p in doc["params"] if p["required"])])
    lines += ["", "Examples:"]
    lines += hanging_lines("", f"{example}    # the plan: nothing changes", width, indent=2, more=4)
    lines += hanging_lines(
        "", f"{example} --apply --reason 'p95 over 2 s' --ticket INC-42", width, indent=2, more=4
    )
    lines += hanging_lines("", f"perfbook fix history {doc['id']}", width, indent=2, more=4)
    return lines


def short_target(target: str) -> str:
    """A (redacted) target as a person tells two apart: ``127.0.0.1:5432/shop``, ``redis 10.0.0.5:6379/0``.

    >>> short_target("postgresql://app:***@127.0.0.1:5432/shop"), short_target("unix:///run/docker.sock")
    ('127.0.0.1:5432/shop', 'unix:///run/docker.sock')
    """
    scheme, sep, rest = target.partition("://")
    if not sep or scheme in ("unix", "npipe") or not rest:
        return target
    host = rest.rsplit("@", 1)[-1]
    return ("redis " if scheme.startswith("redis") else "") + host


def history_lines(rows: list[dict[str, Any]], width: int = 80, *, plans: bool = False) -> list[str]:
    """``perfbook fix history``: a header, one row per apply (newest first) with its summary, reason
    and ticket under it; the dry runs between two applies collapsed into one line (with ``plans``:
    every entry, and a mode column: plan or apply)."""
    if not rows:
        return ["no fixes recorded yet"]
    table: list[list[str]] = []
    notes: list[list[str]] = [[]]  # the lines under the header and under each table row
    pending: list[dict[str, Any]] = []
    last_apply: dict[str, Any] | None = None

    def flush() -> None:
        if pending and not plans:
            actions = ", ".join(dict.fromkeys(r["action"] for r in pending))
            notes[-1].append(f"… {len(pending)} dry run{'s' if len(pending) > 1 else ''} ({actions})")
        pending.clear()

    for r in rows:
        if r["mode"] != "apply" and not plans:
            own = (
                last_apply is not None
                and not pending
                and (r["action"], r["target"]) == (last_apply["action"], last_apply["target"])
            )
            last_apply = None
            if not own:  # an apply's own plan, just before it, is part of the apply
                pending.append(r)
            continue
        flush()
        last_apply = r
        mode = [r["mode"]] if plans else []  # without --plans every row is an apply: no column for it
        table.append(
            [
                _when(r["at"]),
                str(r["os_user"])[:12],
                r["action"],
                *mode,
                r["outcome"],
                short_target(r.get("target") or ""),
            ]
        )
        under = [r.get("summary") or ""]
        if r.get("error") and r["outcome"] != "refused":
            under.append(f"error: {r['error']}")
        why = [
            f"reason: {r['reason']}" if r.get("reason") else "",
            f"ticket: {r['ticket']}" if r.get("ticket") else "",
            f"incident: INC-{r['incident']}" if r.get("incident") else "",
        ]
        if any(why):
            under.append("; ".join(x for x in why if x))
        notes.append([u for u in under if u])
    flush()
    header = ["time (UTC)", "who", "action", *(["mode"] if plans else []), "outcome", "target"]
    blocks = table_blocks(header, table, width)
    lines: list[str] = []
    for block, under in zip(blocks, notes, strict=True):
        lines += block
        for text in under:
            lines += hanging_lines("", text, width, indent=4)
    if not plans and all(r["mode"] != "apply" for r in rows):
        lines.append("no applies yet: every entry is a dry run (see them with --plans)")
    return lines


def _when(at: str) -> str:
    """``2026-12-02T01:50:07Z`` -> ``12-02 01:50:07``."""
    return at[5:19].replace("T", " ") if len(at) >= 19 else at
