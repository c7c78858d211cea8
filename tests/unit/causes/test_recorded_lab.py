"""Causes on recorded triage reports of the lab (tests/fixtures/causes/lab_*.json), each fault under
background traffic on a loaded 2-core machine — with the noise such a machine adds (host CPU busy,
slow Redis PINGs, a Redis probe timing out, a lifetime cache ratio under its limit).

The probes that missed their fault in these recordings (process for ``cpu`` / ``leak``, redis
lookups under the minimum for ``nocache``) have no recording here; their joins are covered on
built evidence in the other tests.
"""

from __future__ import annotations

import json

import pytest
from causes_stack import RECORDED, recorded_report

from perfbook.causes import WEAK_CONFIDENCE, rank_causes
from perfbook.model import jsonable
from perfbook.report.json import validate_report

# fault -> (layer, words the top cause must contain, fix id of its action or None)
EXPECTED = {
    "slow": ("app", ["GET /api/v1/agents is slow", "application itself"], None),
    "errors": ("app", ["fails with 500", "application itself errors"], None),
    "seqscan": (
        "postgres",
        ["E-mail search (GET /api/v1/users?email=…, p95 0.52 s) scans public.users (no usable index)"],
        "pg.create_index",
    ),
    "lock": ("postgres", ["public.agents wait on a lock held by pid", "perfbook-lab-fault"], "pg.terminate"),
    "idle_tx": ("postgres", ["sit idle in a transaction", "perfbook-lab-fault"], "pg.terminate"),
    "pool": ("postgres", ["connections are saturated", "by perfbook-lab-fault"], None),
    "bloat": ("postgres", ["public.agents is 99 % dead tuples (autovacuum off)"], "pg.vacuum"),
    "redis_full": ("redis", ["Redis is full and refuses writes"], "redis.set_policy"),
}


def test_the_healthy_lab_has_no_cause_above_the_bar(cfg):
    findings, evidence = recorded_report("healthy")
    causes = rank_causes(findings, evidence, cfg)
    assert all(c.confidence <= WEAK_CONFIDENCE for c in causes), [(c.confidence, c.summary) for c in causes]


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_the_top_cause_names_the_faults_layer_and_subject(cfg, fault):
    layer, words, fix = EXPECTED[fault]
    findings, evidence = recorded_report(fault)
    causes = rank_causes(findings, evidence, cfg)
    top = causes[0]
    assert top.layer == layer, [(c.confidence, c.layer, c.summary) for c in causes]
    for w in words:
        assert w in top.summary
    if fix is not None:
        assert top.action is not None and top.action.id == fix
    assert top.confidence > WEAK_CONFIDENCE
    runner_up = causes[1].confidence if len(causes) > 1 else 0.0
    assert top.confidence - runner_up >= 0.1, "the fault stands clear of the machine's noise"


@pytest.mark.parametrize("fault", ["healthy", *sorted(EXPECTED)])
def test_causes_keep_the_json_contract(cfg, fault):
    findings, evidence = recorded_report(fault)
    doc = json.loads((RECORDED / f"lab_{fault}.json").read_text())
    doc["causes"] = jsonable(rank_causes(findings, evidence, cfg))
    validate_report(json.loads(json.dumps(doc)))
