"""Recorded evidence for the rules tests: JSON in tests/fixtures/evidence/ -> the probe's dataclasses."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfbook.model import Evidence

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "evidence"


def build(tp: Any, value: Any) -> Any:
    """``value`` (from JSON) as type ``tp``: dataclasses, lists of them, optionals; others as is."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return build(args[0], value) if len(args) == 1 else value
    if origin is list:
        (arg,) = typing.get_args(tp)
        return [build(arg, v) for v in value]
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{f.name: build(hints[f.name], value[f.name]) for f in dataclasses.fields(tp) if f.name in value})
    return value


@pytest.fixture
def recorded() -> Callable[[str, type], Evidence]:
    """``recorded("host.json", HostEvidence)``: a probe's recorded Evidence with its typed data."""

    def load(name: str, data_cls: type) -> Evidence:
        raw = json.loads((FIXTURES / name).read_text())
        return Evidence(raw["probe"], raw["status"], raw["duration_s"], raw.get("reason"), build(data_cls, raw["data"]))

    return load
