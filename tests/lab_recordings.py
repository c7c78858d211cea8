"""Recorded ``perfbook triage --json`` reports of the lab (tests/fixtures/causes/lab_*.json), with their causes.

The recordings predate cause ranking in the report; :func:`lab_report` ranks them with today's
code (the same loader the cause tests use), so an incident built from them carries causes as a
triage of the lab would today.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parent / "fixtures" / "causes"


@cache
def _causes_stack() -> Any:
    spec = importlib.util.spec_from_file_location(
        "causes_stack", Path(__file__).parent / "unit/causes/causes_stack.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lab_report(name: str) -> dict[str, Any]:
    """The lab's triage with fault ``name`` on (``healthy`` for none), causes ranked."""
    from perfbook.causes import rank_causes
    from perfbook.config import Config
    from perfbook.model import jsonable

    doc = json.loads((RECORDED / f"lab_{name}.json").read_text())
    findings, evidence = _causes_stack().recorded_report(name)
    doc["causes"] = jsonable(rank_causes(findings, evidence, Config()))
    return doc


def lab_names() -> list[str]:
    return sorted(p.stem.removeprefix("lab_") for p in RECORDED.glob("lab_*.json"))
