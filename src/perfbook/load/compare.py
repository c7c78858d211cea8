"""``perfbook load compare A.json B.json``: two saved runs side by side, the change of each figure,
and whether B is better, worse or the same within noise.

How noise is judged (:data:`NOISE`): throughput and latency count as changed only when they moved
by more than 10 % — and latency by at least 1 ms, below which timer and scheduling jitter on a
loaded machine dominate; the error rate only when the difference passes two standard errors of
the pooled error share (a two-proportion test: 1 error in 10 requests against 0 in 10 is noise).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

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


NOISE = {"relative": 0.10, "latency_floor_s": 0.001, "error_rate_z": 2.0}
NOISE_TEXT = (
    "same = within noise: throughput and latency within 10 % (latency also within 1 ms); "
    "error rate within 2 standard errors of the pooled share"
)


def changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Each figure of A and B, its relative change, and its verdict: better, worse, or the same
    within noise (None for the figures that only give context: requests, duration). Pure.

    >>> run = lambda p95, n=1000, err=0.0: {"rps": 100.0, "requests": n, "error_rate": err, "latency": {"p95_s": p95}}
    >>> rows = {r["figure"]: r["verdict"] for r in changes(run(0.020), run(0.040))}
    >>> rows["latency p95"], rows["throughput (rps)"], rows["error rate"]
    ('worse', 'same', 'same')
    >>> {r["figure"]: r["verdict"] for r in changes(run(0.1, 10, 0.1), run(0.1, 10, 0.0))}["error rate"]
    'same'
    """
    rows = []
    for label, path, kind, better in FIGURES:
        va, vb = _get(a, path), _get(b, path)
        change = (vb - va) / va if va and vb is not None else None
        verdict = None
        if better and va is not None and vb is not None:
            if _within_noise(kind, va, vb, a.get("requests"), b.get("requests")):
                verdict = "same"
            else:
                improved = vb > va if better == "higher" else vb < va
                verdict = "better" if improved else "worse"
        rows.append({"figure": label, "kind": kind, "a": va, "b": vb, "change": change, "verdict": verdict})
    return rows


def _within_noise(kind: str, va: float, vb: float, na: int | None, nb: int | None) -> bool:
    if va == vb:
        return True
    if kind == "share":
        if not na or not nb:
            return False
        pooled = (va * na + vb * nb) / (na + nb)
        se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
        return abs(vb - va) <= NOISE["error_rate_z"] * se
    if kind == "seconds" and abs(vb - va) < NOISE["latency_floor_s"]:
        return True
    return abs(vb - va) <= NOISE["relative"] * abs(va)


def verdict_line(rows: list[dict[str, Any]]) -> str:
    """One sentence: ``B is worse: latency p95 +98.0 %, …`` / ``B is better: …`` / ``B is the same …``.

    >>> verdict_line([{"figure": "latency p95", "verdict": "worse", "change": 0.98}])
    'B is worse: latency p95 +98.0 %.'
    """
    worse = [r for r in rows if r["verdict"] == "worse"]
    better = [r for r in rows if r["verdict"] == "better"]

    def said(group: list[dict[str, Any]]) -> str:
        return ", ".join(
            r["figure"] + ("" if r["change"] is None else f" {r['change'] * 100:+.1f} %") for r in group
        )

    if worse and better:
        return f"B is mixed: worse in {said(worse)}; better in {said(better)}."
    if worse:
        return f"B is worse: {said(worse)}."
    if better:
        return f"B is better: {said(better)}."
    return "B is the same as A within noise."


def compare_table(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> Table:
    """The side-by-side table with each figure's verdict in words (colour only repeats it)."""
    table = Table(
        title=f"A {name_a} → B {name_b}",
        box=None,
        title_justify="left",
        caption=NOISE_TEXT,
        caption_justify="left",
    )
    for col, justify in (
        ("figure", "left"),
        (name_a, "right"),
        (name_b, "right"),
        ("change", "right"),
        ("B is", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]  # left / right
    styles = {"better": "green", "worse": "bold red", "same": "dim"}
    for row in changes(a, b):
        change = "-" if row["change"] is None else f"{row['change']:+.1%}"
        table.add_row(
            row["figure"],
            _fmt(row["a"], row["kind"]),
            _fmt(row["b"], row["kind"]),
            change,
            Text(row["verdict"] or "", style=styles.get(row["verdict"] or "", "")),
        )
    return table
