"""Fixtures of the cause-ranking tests: the config and ``rank`` (real rules, then rank_causes)."""

from __future__ import annotations

import pytest
from causes_stack import findings_of

from perfbook.causes import rank_causes, split_causes
from perfbook.config import Config
from perfbook.model import Cause, Evidence, Finding


@pytest.fixture
def cfg() -> Config:
    return Config()


@pytest.fixture
def rank(cfg: Config):
    """``rank(evidence)`` -> (findings, causes) through the real rules and rank_causes."""

    def run(evidence: dict[str, Evidence]) -> tuple[list[Finding], list[Cause]]:
        found = findings_of(evidence, cfg)
        return found, rank_causes(found, evidence, cfg)

    return run


@pytest.fixture
def split(cfg: Config):
    """``split(evidence)`` -> (findings, ranked causes, also seen) through the real rules and split_causes."""

    def run(evidence: dict[str, Evidence]) -> tuple[list[Finding], list[Cause], list[Cause]]:
        found = findings_of(evidence, cfg)
        ranked, also = split_causes(found, evidence, cfg)
        return found, ranked, also

    return run
