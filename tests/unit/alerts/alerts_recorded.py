"""Recorded triage reports for the alert tests (imported as ``alerts_recorded``): real lab runs, whole.

``lab_report("slow")`` is the :class:`~perfbook.model.Report` of tests/fixtures/causes/lab_slow.json,
with each probe's evidence as its typed dataclasses, so :func:`perfbook.alerts.observe.observe`
reads exactly what a live triage gives it.
"""

from __future__ import annotations

import json
from pathlib import Path

from perfbook.evidence.containers import ContainersEvidence
from perfbook.evidence.host import HostEvidence
from perfbook.evidence.http import HttpEvidence
from perfbook.evidence.metrics import MetricsEvidence
from perfbook.evidence.postgres import PostgresEvidence
from perfbook.evidence.redis import RedisEvidence
from perfbook.model import Action, Evidence, Finding, IssueType, Kpis, Level, Report, Severity, from_jsonable

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DATA_CLASSES = {
    "http": HttpEvidence,
    "metrics": MetricsEvidence,
    "postgres": PostgresEvidence,
    "redis": RedisEvidence,
    "host": HostEvidence,
    "containers": ContainersEvidence,
}


def report_from_doc(doc: dict) -> Report:
    """A Report from its JSON contract form (evidence typed where the alert rules read it)."""
    probes = {}
    for probe, raw in doc["probes"].items():
        cls = DATA_CLASSES.get(probe)
        data = from_jsonable(cls, raw.get("evidence")) if cls is not None else None
        probes[probe] = Evidence(probe, raw["status"], raw["duration_s"], raw.get("reason"), data)
    findings = [
        Finding(
            code=f["code"],
            level=Level(f["level"]),
            issue_type=IssueType(f["issue_type"]),
            subject=f["subject"],
            title=f["title"],
            value=f["value"],
            threshold=f["threshold"],
            unit=f["unit"],
            evidence=f["evidence"],
            actions=tuple(Action(**a) for a in f["actions"]),
            low_confidence=f["low_confidence"],
        )
        for f in doc["findings"]
    ]
    severity = Severity(doc["severity"]) if doc.get("severity") else None
    return Report(
        doc["started_at"],
        doc["duration_s"],
        doc["window_s"],
        doc["target"],
        severity,
        doc["severity_reason"],
        [IssueType(t) for t in doc["issue_types"]],
        Kpis(**doc["kpis"]),
        findings,
        probes,
    )


def lab_report(fault: str) -> Report:
    return report_from_doc(json.loads((FIXTURES / "causes" / f"lab_{fault}.json").read_text()))


def recorded_evidence(name: str) -> Evidence:
    """One probe's recorded evidence from tests/fixtures/evidence/ (e.g. ``containers_podman.json``)."""
    raw = json.loads((FIXTURES / "evidence" / name).read_text())
    return Evidence(
        raw["probe"],
        raw["status"],
        raw["duration_s"],
        raw.get("reason"),
        from_jsonable(DATA_CLASSES[raw["probe"]], raw["data"]),
    )
