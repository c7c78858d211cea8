"""The JSON report: the contract (docs/report-schema.md), validated against ``schema/report.schema.json``.

doc = report_to_dict(report)       # plain dict, JSON-ready
validate_report(doc)               # jsonschema; raises on a contract break
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from perfbook.model import Evidence, Report, jsonable


def probe_to_dict(ev: Evidence, with_evidence: bool = True) -> dict[str, Any]:
    """One probe's status block; ``evidence`` holds its data (None when it gathered nothing)."""
    out: dict[str, Any] = {"status": ev.status, "duration_s": ev.duration_s}
    if ev.reason:
        out["reason"] = ev.reason
    if with_evidence:
        out["evidence"] = jsonable(ev.data)
    return out


def report_to_dict(report: Report, with_evidence: bool = True) -> dict[str, Any]:
    """The report as the JSON contract (findings sorted most severe first)."""
    return {
        "schema_version": report.schema_version,
        "perfbook": report.perfbook,
        "started_at": report.started_at,
        "duration_s": report.duration_s,
        "window_s": report.window_s,
        "target": jsonable(report.target),
        "severity": report.severity.value if report.severity is not None else None,
        "severity_reason": report.severity_reason,
        "issue_types": [t.value for t in report.issue_types],
        "kpis": jsonable(report.kpis),
        "causes": jsonable(report.causes),
        "also_seen": jsonable(report.also_seen),
        "loop_lag": jsonable(report.loop_lag),
        "findings": jsonable(report.findings),
        "probes": {name: probe_to_dict(ev, with_evidence) for name, ev in report.probes.items()},
    }


@cache
def report_schema() -> dict[str, Any]:
    """The JSON Schema of the report, shipped in the package."""
    text = resources.files("perfbook.schema").joinpath("report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def validate_report(doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``doc`` breaks the contract."""
    import jsonschema

    jsonschema.validate(doc, report_schema())
