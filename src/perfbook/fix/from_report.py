"""``fix --from-report``: a saved triage report chooses *which* findings to fix; the live system says *how*.

A report is a file, and a file can be old, of another system, or edited by hand. So:

1. the report's targets (redacted, with their fingerprint) must be the configured ones for every
   layer its fixes touch — else refused, both named, and the refusal audited;
2. those layers are triaged again, now;
3. only the live recommendations whose findings the report also names are planned — with the
   live parameters. A report cannot add an action, a parameter (``--full``, a pattern, a pid) or
   a target; a finding gone since is skipped and audited.

``VACUUM FULL``, flushes and deletes are therefore only ever planned from live evidence or from
the command line. The ranked causes' fixes come first, then the findings' own, most severe first;
each fix with the same parameters once, and only actions the catalog can perform.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfbook.errors import UsageError
from perfbook.fix.catalog import CATALOG, fix_class
from perfbook.fix.context import FixContext
from perfbook.fix.runner import record_audit, record_skip
from perfbook.fix.verify import USER_FACING_PROBES
from perfbook.redact import redact
from perfbook.targets import target_identity

# The report's target key and the config's value, per fix layer.
LAYER_TARGETS = {
    "postgres": "postgres",
    "pgbouncer": "pgbouncer",
    "redis": "redis",
    "containers": "containers",
    "process": "host",
}
GONE = "not present now"


@dataclass(frozen=True)
class RecommendedFix:
    """One catalog action a report recommends, and the findings that recommend it."""

    fix_id: str
    params: dict[str, Any]
    summary: str
    findings: tuple[str, ...] = field(default=())


@dataclass
class LivePlan:
    """What a ``--from-report`` run will do: the live report, the fixes to plan, what was left out and why."""

    report: dict[str, Any]  # the triage run just now (the "before" of the first fix)
    todo: list[RecommendedFix]
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"action", "findings", "skipped": why}


def load_report(path: Path) -> dict[str, Any]:
    """The report at ``path``; UsageError (one line) when it is missing or not a triage report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"--from-report: no file {path}", hint="save one with: perfbook triage --json > report.json"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"--from-report: cannot read {path} as JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise UsageError(f"--from-report: {path} is not a perfbook triage report (no findings list)")
    return data


def check_contract(report: dict[str, Any]) -> None:
    """UsageError (one line) unless ``report`` keeps the JSON contract: a report that drives fixes
    must be whole, not just shaped like one."""
    problem = schema_problem(report)
    if problem:
        raise UsageError(
            f"--from-report: not a perfbook triage report: {problem}",
            hint="save one with: perfbook triage --json > report.json",
        )


def schema_problem(doc: dict[str, Any]) -> str | None:
    """Where ``doc`` breaks the report contract (report.schema.json), one line; None when it keeps it."""
    import jsonschema

    from perfbook.report.json import report_schema

    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(report_schema()).iter_errors(doc)
    )
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the document"
    return f"{where}: {redact(error.message)[:160]}"


def recommended_fixes(report: dict[str, Any]) -> list[RecommendedFix]:
    """The catalog actions of the report: its ranked causes' first, then its findings', duplicates merged."""
    merged: dict[str, RecommendedFix] = {}
    causes = [c for c in report.get("causes") or [] if isinstance(c, dict)]
    sources = [
        (tuple(c.get("findings") or ()), [c["action"]]) for c in causes if isinstance(c.get("action"), dict)
    ]
    sources += [((finding_key(f),), f.get("actions") or []) for f in report["findings"]]
    for keys, actions in sources:
        for action in actions:
            if not isinstance(action, dict) or action.get("id") not in CATALOG or not action.get("command"):
                continue
            params = dict(action.get("params") or {})
            ident = json.dumps([action["id"], params], sort_keys=True, default=str)
            prev = merged.get(ident)
            findings = tuple(dict.fromkeys((prev.findings if prev else ()) + keys))
            merged[ident] = RecommendedFix(action["id"], params, action.get("summary", ""), findings)
    return list(merged.values())


def finding_key(f: dict[str, Any]) -> str:
    """``code:subject``, a finding's identity."""
    return f"{f.get('code')}:{f.get('subject')}"


def touched_layers(fixes: list[RecommendedFix]) -> list[str]:
    """The fix layers (postgres, redis, containers, process) the fixes act on, in order."""
    return list(dict.fromkeys(fix_class(rec.fix_id).layer for rec in fixes))


def configured_target(layer: str, ctx: FixContext) -> str:
    """What the configured target of ``layer`` is, as a report's ``target`` would name it."""
    if layer == "process":
        return f"this machine ({socket.gethostname()})"
    return ctx.target_for(layer)


def target_mismatches(report: dict[str, Any], ctx: FixContext, layers: list[str]) -> list[str]:
    """One line per touched layer whose report target is not the configured one (both named, redacted)."""
    lines = []
    for layer in layers:
        key = LAYER_TARGETS[layer]
        theirs = report["target"].get(key)
        ours = configured_target(layer, ctx)
        if not isinstance(theirs, str) or not theirs:
            lines.append(
                f"{key}: the report names no {key} target; the config points at {redact(ours) or 'none'}"
            )
        elif target_identity(key, theirs) != target_identity(key, ours):
            lines.append(
                f"{key}: the report was taken against {redact(theirs)}, the config points at "
                f"{redact(ours) or 'none'}"
            )
    return lines


def live_choice(saved: dict[str, Any], live: dict[str, Any]) -> LivePlan:
    """The live fixes whose findings the saved report names, with the live parameters; the rest skipped.

    Pure: ``saved`` is the file, ``live`` the triage of the same layers just now.
    """
    saved_keys = {finding_key(f) for f in saved["findings"]}
    live_recs = recommended_fixes(live)
    live_keys = {finding_key(f) for f in live["findings"]}
    plan = LivePlan(live, [rec for rec in live_recs if set(rec.findings) & saved_keys])
    chosen = {(rec.fix_id, json.dumps(rec.params, sort_keys=True, default=str)) for rec in plan.todo}
    for rec in recommended_fixes(saved):
        if (rec.fix_id, json.dumps(rec.params, sort_keys=True, default=str)) in chosen:
            continue
        if set(rec.findings) & live_keys:
            why = "the report's parameters are not what the live finding recommends: the live ones are used"
        else:
            why = GONE
        plan.skipped.append(
            {"action": rec.fix_id, "params": rec.params, "findings": list(rec.findings), "skipped": why}
        )
    return plan


def retriage(ctx: FixContext, layers: list[str], window_s: float) -> dict[str, Any]:
    """Triage of the touched layers (and the user-facing ones, for before / after) now, as a report dict."""
    from perfbook.fix.verify import report_dict
    from perfbook.triage import triage

    only = list(dict.fromkeys([*layers, *USER_FACING_PROBES]))
    return report_dict(triage(ctx.cfg, only=only, window_s=window_s)) or {"findings": []}


def from_live_system(report: dict[str, Any], ctx: FixContext, store: Any, window_s: float) -> LivePlan:
    """What ``--from-report`` may do now: targets checked, touched layers triaged again, live fixes chosen.

    A report of another system is refused (UsageError naming both targets) and the refusal audited;
    every fix of the report left out (its finding gone, its parameters not the live ones) is audited.
    """
    check_contract(report)
    saved = recommended_fixes(report)
    layers = touched_layers(saved)
    mismatches = target_mismatches(report, ctx, layers)
    if mismatches:
        why = "the report is of another system: " + "; ".join(mismatches)
        for layer in layers:
            record_audit(
                store,
                os_user=ctx.os_user,
                target=ctx.target_for(layer),
                action="fix.from_report",
                mode="plan",
                params={},
                outcome="refused",
                summary=why,
                error=why,
            )
        raise UsageError(
            f"--from-report refused: {mismatches[0]}"
            + (f" (+{len(mismatches) - 1} more)" if len(mismatches) > 1 else ""),
            hint="triage this system and fix from that report, or pass the --config it was taken with",
        )
    live = live_choice(report, retriage(ctx, layers, window_s) if layers else {"findings": []})
    for skip in live.skipped:
        record_skip(
            skip["action"],
            fix_class(skip["action"]).layer,
            skip["params"],
            ctx,
            store,
            f"skipped: {skip['skipped']}",
        )
    return live
