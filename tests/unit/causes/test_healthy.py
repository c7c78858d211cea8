"""A healthy stack has no cause above 0.3; causes never crash on missing or partial evidence."""

from __future__ import annotations

from causes_stack import healthy

from perfbook.causes import WEAK_CONFIDENCE, rank_causes
from perfbook.model import Evidence


def test_healthy_stack_has_no_findings_and_no_cause(rank):
    found, causes = rank(healthy())
    assert [f.key for f in found if f.level.value != "info"] == []
    assert all(c.confidence <= WEAK_CONFIDENCE for c in causes)
    assert causes == []


def test_no_evidence_at_all_gives_no_cause(cfg):
    assert rank_causes([], {}, cfg) == []


def test_unavailable_probes_are_read_defensively(rank):
    evidence = {
        name: Evidence(name, "unavailable", 0.1, reason="connection refused")
        for name in ("http", "metrics", "postgres", "redis")
    }
    found, causes = rank(evidence)
    assert causes, "an unreachable backend is itself a cause"
    assert causes[0].layer == "app"
