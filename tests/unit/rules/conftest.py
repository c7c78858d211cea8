"""Recorded evidence for the rules tests: JSON in tests/fixtures/evidence/ -> the probe's dataclasses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from perfbook.model import Evidence, from_jsonable

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "evidence"


@pytest.fixture
def recorded() -> Callable[[str, type], Evidence]:
    """``recorded("host.json", HostEvidence)``: a probe's recorded Evidence with its typed data."""

    def load(name: str, data_cls: type) -> Evidence:
        raw = json.loads((FIXTURES / name).read_text())
        return Evidence(
            raw["probe"],
            raw["status"],
            raw["duration_s"],
            raw.get("reason"),
            from_jsonable(data_cls, raw["data"]),
        )

    return load
