"""Verify a fix: rerun the probes it names for one window through triage, and compare before / after.

``measure`` is the only I/O (it calls :func:`perfbook.triage.run_triage`); ``compare`` is pure
over two reports — a :class:`~perfbook.model.Report` or a saved report's JSON dict — so a
``--from-report`` run compares against the very report that recommended the fix.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from perfbook.config import Config
from perfbook.evidence import USABLE_STATUSES
from perfbook.fix.base import VerifySpec
from perfbook.probes import probes_seeing
from perfbook.redact import redact_text

ABSENT = "absent"
UNMEASURED = "not measured"
# What users feel is measured after every fix too: the p95 and the 5xx share (when http is configured).
USER_FACING_PROBES = ("http", "metrics")
USER_FACING_KPIS = ("p95_s", "error_rate")


@dataclass
class VerifyResult:
    """Before / after of the findings and KPIs a fix should move; ``gone`` None = could not tell."""

    probes: list[str]
    window_s: float
    findings: list[dict[str, Any]] = field(default_factory=list)  # finding, before, after (value / "absent")
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: bool | None = None
    note: str | None = None
    after_report: dict[str, Any] | None = field(default=None, repr=False)  # not in to_dict: for chaining

    def figures(self) -> dict[str, tuple[Any, Any]]:
        """name -> (before, after), for the audit log."""
        out = {f["finding"]: (f["before"], f["after"]) for f in self.findings}
        out.update({f"kpis.{k}": (v["before"], v["after"]) for k, v in self.kpis.items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "probes": self.probes,
            "window_s": self.window_s,
            "findings": self.findings,
            "kpis": self.kpis,
            "gone": self.gone,
            "note": self.note,
        }


def report_dict(report: Any) -> dict[str, Any] | None:
    """A report as the JSON contract's dict (a saved report already is one)."""
    if report is None or isinstance(report, dict):
        return report
    from perfbook.report.json import report_to_dict

    return report_to_dict(report, with_evidence=False)


def measure(cfg: Config, spec: VerifySpec, window_s: float) -> dict[str, Any]:
    """Run triage with only ``spec.probes`` for one window; ``{"error": why}`` when it cannot run."""
    try:
        from perfbook.triage import run_triage
    except ImportError as err:
        return {"error": f"the triage engine is not available ({err})"}
    try:
        only = list(dict.fromkeys(spec.probes + USER_FACING_PROBES))
        result = asyncio.run(run_triage(cfg, only=only, window_s=window_s))
    except Exception as err:  # verification must never turn a done fix into a crash
        return {"error": redact_text(f"triage failed: {type(err).__name__}: {err}")}
    return report_dict(result) or {"error": "triage returned nothing"}


def _matching(spec: VerifySpec, report: dict[str, Any] | None) -> dict[str, Any]:
    """``code:subject`` -> value of the report's findings that ``spec`` is about."""
    out: dict[str, Any] = {}
    for f in (report or {}).get("findings", []):
        if spec.matches(f["code"], f["subject"]):
            out[f"{f['code']}:{f['subject']}"] = f.get("value") if f.get("value") is not None else "present"
    return out


def _thresholds(spec: VerifySpec, report: dict[str, Any] | None) -> dict[str, Any]:
    """``code:subject`` -> the threshold the finding's value is judged against (to show which way it moved)."""
    return {
        f"{f['code']}:{f['subject']}": f.get("threshold")
        for f in (report or {}).get("findings", [])
        if spec.matches(f["code"], f["subject"]) and f.get("threshold") is not None
    }


def _unmeasured(probes: tuple[str, ...], report: dict[str, Any] | None) -> str | None:
    """Why ``report`` cannot say whether findings of ``probes`` went away (none of them ran), or None."""
    if report is None:
        return "no report"
    if "error" in report and "findings" not in report:
        return report["error"]
    statuses = {n: report.get("probes", {}).get(n) or {"status": "not run"} for n in probes}
    if any(p.get("status") in USABLE_STATUSES for p in statuses.values()):
        return None
    name, probe = next(iter(statuses.items()))
    return f"{name}: {probe.get('status')} ({probe.get('reason') or 'no reason'})"


def compare(spec: VerifySpec, before: Any, after: Any, window_s: float) -> VerifyResult:
    """Before / after of ``spec``'s findings and KPIs between two reports, and whether they are gone."""
    before, after = report_dict(before), report_dict(after)
    result = VerifyResult(probes=list(spec.probes), window_s=window_s, after_report=after)
    b, a = _matching(spec, before), _matching(spec, after)
    for key in b:  # a finding whose probe did not run after the fix is not measured, never "gone"
        if key not in a and _unmeasured(probes_seeing(key) or spec.probes[:1], after):
            a[key] = UNMEASURED
    limits = _thresholds(spec, before) | _thresholds(spec, after)
    result.findings = [
        {"finding": k, "before": b.get(k, ABSENT), "after": a.get(k, ABSENT), "limit": limits.get(k)}
        for k in sorted(b | a)
    ]
    for name in dict.fromkeys(spec.kpis + USER_FACING_KPIS):
        pair = {
            "before": ((before or {}).get("kpis") or {}).get(name),
            "after": ((after or {}).get("kpis") or {}).get(name),
        }
        if pair["before"] is not None or pair["after"] is not None:  # not measured either time: say nothing
            result.kpis[name] = pair
    problem = _unmeasured(spec.probes[:1], after)  # the layer the fix acted on
    if problem:
        result.note = f"could not verify: {problem}"
    elif UNMEASURED in a.values():
        result.note = "some findings could not be measured after the fix (their probe did not run)"
    elif b:
        result.gone = not a
    elif a:
        result.gone, result.note = False, "no matching finding before the fix, one after it"
    else:
        result.note = "no matching finding before the fix, none after it"
    return result


def merge_reports(old: dict[str, Any], new: dict[str, Any] | None) -> dict[str, Any]:
    """The current picture: ``new``'s findings for the layers it measured, ``old``'s for the others.

    ``--from-report`` uses it so the "before" of each fix is the state the previous fix left.
    """
    if not new or "findings" not in new:
        return old
    measured = {n for n, p in (new.get("probes") or {}).items() if p.get("status") in USABLE_STATUSES}

    def still_valid(f: dict[str, Any]) -> bool:
        return not measured & set(probes_seeing(f["code"]))

    kpis = {**(old.get("kpis") or {}), **{k: v for k, v in (new.get("kpis") or {}).items() if v is not None}}
    return {
        **old,
        "findings": [f for f in old.get("findings", []) if still_valid(f)] + new["findings"],
        "kpis": kpis,
        "probes": {**(old.get("probes") or {}), **(new.get("probes") or {})},
    }
