"""``perfbook load compare A.json B.json``: two saved runs side by side, with the change of each figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from perfbook.errors import UsageError
from perfbook.load.render import LATENCY_COLUMNS
from perfbook.units import format_duration

# (label, path into the JSON, kind, better when) — kind picks the formatting
FIGURES = [
    ("requests", ("requests",), "count", None),
    ("duration", ("duration_s",), "seconds", None),
    ("throughput (rps)", ("rps",), "rate", "higher"),
    ("error rate", ("error_rate",), "share", "lower"),
    *[(f"latency {name}", ("latency", key), "seconds", "lower") for name, key in LATENCY_COLUMNS],
]


def read_run(path: Path) -> dict[str, Any]:
    """A saved ``perfbook load --json`` document."""
    try:
        doc = json.loads(path.read_text())
    except OSError as err:
        raise UsageError(f"load compare: cannot read {path}: {err.strerror}") from None
    except ValueError as err:
        raise UsageError(f"load compare: {path} is not JSON: {err}") from None
    if not isinstance(doc, dict) or "latency" not in doc or "rps" not in doc:
        raise UsageError(f"load compare: {path} is not a perfbook load --json result")
    return doc


def _get(doc: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = doc
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "seconds":
        return format_duration(value)
    if kind == "share":
        return f"{value:.2%}"
    if kind == "rate":
        return f"{value:,.0f}"
    return f"{value:,}"


def changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Each figure of A and B, its relative change, and whether it got better (pure)."""
    rows = []
    for label, path, kind, better in FIGURES:
        va, vb = _get(a, path), _get(b, path)
        change = (vb - va) / va if va and vb is not None else None
        verdict = None
        if better and va is not None and vb is not None and va != vb:
            improved = vb > va if better == "higher" else vb < va
            verdict = "better" if improved else "worse"
        rows.append({"figure": label, "kind": kind, "a": va, "b": vb, "change": change, "verdict": verdict})
    return rows


def compare_table(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> Table:
    """The side-by-side table; changes over 5 % are coloured by whether they are better."""
    table = Table(title=f"{name_a} → {name_b}", box=None)
    for col, justify in (("figure", "left"), (name_a, "right"), (name_b, "right"), ("change", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]  # left / right
    for row in changes(a, b):
        change = "-" if row["change"] is None else f"{row['change']:+.1%}"
        style = ""
        if row["verdict"] and row["change"] is not None and abs(row["change"]) >= 0.05:
            style = "green" if row["verdict"] == "better" else "red"
        table.add_row(
            row["figure"],
            _fmt(row["a"], row["kind"]),
            _fmt(row["b"], row["kind"]),
            f"[{style}]{change}[/]" if style else change,
        )
    return table
