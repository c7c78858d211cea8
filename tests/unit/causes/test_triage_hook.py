"""Triage puts the ranked causes in the report, and a bug in ranking never breaks triage."""

from __future__ import annotations

import pytest
from causes_stack import findings_of, handler, healthy, metrics_ev

import perfbook.causes
from perfbook import triage


def test_triage_ranks_the_findings(cfg):
    ev = healthy()
    ev["metrics"] = metrics_ev(handler("/api/v1/users"), handler("/api/v1/agents", 3.0))
    causes, also_seen = triage._rank_causes(findings_of(ev, cfg), ev, cfg)
    assert causes and causes[0].layer == "app" and also_seen == []


def test_a_bug_in_ranking_gives_no_causes_and_a_warning(cfg, monkeypatch):
    def broken(*args):
        raise KeyError("boom")

    monkeypatch.setattr(perfbook.causes, "split_causes", broken)
    with pytest.warns(RuntimeWarning, match="cause ranking failed.*KeyError"):
        assert triage._rank_causes([], healthy(), cfg) == ([], [])
