"""Plain-text views of plans, outcomes, verifications, the catalog and the audit history (pure).

Each ``*_lines`` builder returns lines; the CLI prints them. JSON output does not come through
here: it is the objects' ``to_dict()``.
"""

from __future__ import annotations

import shlex
from typing import Any

from perfbook.fix.base import Outcome, Plan
from perfbook.fix.verify import VerifyResult
from perfbook.report.text import hanging_lines


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
    lines += [f"  {name}: {_value(pair.get('before'))} -> {_value(pair.get('after'))}"
              for name, pair in outcome.figures.items()]
    return lines


def verify_lines(result: VerifyResult | None) -> list[str]:
    """Before / after of the findings and KPIs, and whether the finding is gone."""
    if result is None:
        return []
    lines = [f"verify ({', '.join(result.probes)}, {result.window_s:g} s window):"]
    lines += [f"  {f['finding']}: {_value(f['before'])} -> {_value(f['after'])}"
              + (f" (limit {_value(f['limit'])})" if f.get("limit") is not None else "") for f in result.findings]
    lines += [f"  {name}: {_value(v['before'])} -> {_value(v['after'])}" for name, v in result.kpis.items()
              if v["before"] is not None or v["after"] is not None]
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
    lines += [""] + hanging_lines("Changes: ", doc["changes"], width) + [f"Layer:   {doc['layer']}", "", "Parameters:"]
    for p in doc["params"]:
        lines += hanging_lines(f"{param_usage(p):<27} ", _param_help(p), width, indent=2)
    if not doc["params"]:
        lines.append("  (none)")
    common = [("--apply", "perform the plan (asks on a terminal; --yes in scripts); without it: a dry run"),
              ("--window 2s", "verify window (the fix's probes rerun after the apply)"),
              ("--no-verify", "do not rerun probes after --apply"), ("--json", "one JSON document on stdout")]
    lines += ["", "Common to every fix:"]
    for flag, what in common:
        lines += hanging_lines(f"{flag:<27} ", what, width, indent=2)
    lines += ["", "Safety:"]
    for para in doc["safety"] + ["Dry run unless --apply. Every plan and apply is audited: perfbook fix history."]:
        lines += hanging_lines("", " ".join(para.split()), width, indent=2)
    example = " ".join(["perfbook fix", doc["id"], *(param_usage(p) for p in doc["params"] if p["required"])])
    lines += ["", "Examples:"]
    lines += hanging_lines("", f"{example}    # the plan: nothing changes", width, indent=2, more=4)
    lines += hanging_lines("", f"{example} --apply", width, indent=2,
                           more=4)
    lines += hanging_lines("", f"perfbook fix history {doc['id']}", width, indent=2, more=4)
    return lines


def history_lines(rows: list[dict[str, Any]]) -> list[str]:
    """``perfbook fix history``: one line per audit entry, newest first."""
    lines = []
    for r in rows:
        error = f"  error: {r['error']}" if r.get("error") and r["outcome"] != "refused" else ""
        lines.append(f"{r['id']:>5} {r['at']} {r['os_user']:<10} {r['mode']:<5} {r['action']:<22} "
                     f"{r['outcome']:<8} {r.get('summary') or ''}{error}")
    return lines or ["no fixes recorded yet"]
