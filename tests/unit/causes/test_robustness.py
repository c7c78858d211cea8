"""Ranking never crashes: every registered code, with bare evidence and no probe data, alone or all together."""

from __future__ import annotations

import pytest
from causes_stack import healthy

from perfbook.causes import rank_causes
from perfbook.codes import CODES, finding
from perfbook.model import Level

BARE = [
    finding(
        code,
        "public.users" if code.startswith("pg.") else "/api/v1/users" if code.startswith("http.") else "x[1]",
        f"{code} happened",
    )
    for code in CODES
]


@pytest.mark.parametrize("f", BARE, ids=[f.code for f in BARE])
def test_each_code_alone_with_no_evidence(cfg, f):
    causes = rank_causes([f], {}, cfg)
    for c in causes:
        assert 0.0 <= c.confidence <= 1.0 and c.summary and c.reasons
        assert set(c.findings) <= {f.key}
    if f.level is Level.INFO:
        assert causes == [], "info findings never make a cause"


def test_every_code_at_once_over_healthy_evidence(cfg):
    causes = rank_causes(BARE, healthy(), cfg)
    assert causes and len(causes) <= 8
    assert [c.confidence for c in causes] == sorted((c.confidence for c in causes), reverse=True)
    known = {f.key for f in BARE}
    assert all(set(c.findings) <= known for c in causes)
