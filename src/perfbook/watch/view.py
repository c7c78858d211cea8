"""What the terminal shows while watch runs: each KPI with its sparkline and target, and the alerts (pure).

history = History()
history.add(doc)                      # each run's document
console.print(build_view(doc, history, cfg))   # or inside rich.live.Live
line = run_line(doc)                  # one line per run when stdout is not a terminal
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from perfbook.config import Config
from perfbook.model import Kpis, from_jsonable
from perfbook.report.kpi import kpi_rows
from perfbook.units import sparkline
from perfbook.watch.samples import KPIS

POINTS = 30
STYLE = {"firing": "bold red", "pending": "yellow", "resolved": "green"}


class History:
    """The stack's KPIs of the last :data:`POINTS` runs, for the sparklines."""

    def __init__(self) -> None:
        self.values: dict[str, deque[float | None]] = {k: deque(maxlen=POINTS) for k in KPIS}

    def add(self, doc: dict[str, Any]) -> None:
        for kpi in KPIS:
            self.values[kpi].append((doc.get("kpis") or {}).get(kpi))


def build_view(doc: dict[str, Any], history: History, cfg: Config) -> Group:
    """The KPI table (value, target, status, sparkline) and the alerts pending or firing."""
    title = f"perfbook watch: run {doc['run_id']} at {doc['started_at']}, severity {doc['severity'] or '-'}"
    kpis = Table(title=title, title_justify="left", show_edge=False)
    for col in ("KPI", "now", "target", "status", f"last {POINTS} runs"):
        kpis.add_column(col, no_wrap=True)
    for kpi, row in zip(KPIS, kpi_rows(from_jsonable(Kpis, doc["kpis"]), cfg.thresholds), strict=False):
        style = "red" if row.status == "fail" else ""
        kpis.add_row(
            row.name,
            row.value,
            row.target,
            Text(row.status, style=style),
            sparkline(list(history.values[kpi])),
        )
    alerts = Table(title="alerts", title_justify="left", show_edge=False)
    for col in ("state", "rule", "subject", "value", "muted"):
        alerts.add_column(col, no_wrap=True)
    for a in doc["alerts"]:
        alerts.add_row(
            Text(a["state"], style=STYLE.get(a["state"], "")),
            a["rule"],
            a["subject"] or "-",
            "-" if a["value"] is None else f"{a['value']:.4g}",
            a["muted_by"] or "",
        )
    if not doc["alerts"]:
        alerts.add_row("-", "no alert pending or firing", "", "", "")
    return Group(kpis, Text(""), alerts)


def run_line(doc: dict[str, Any]) -> str:
    """One line per run: severity, the alerts firing / pending, the notifications sent.

    >>> run_line({"started_at": "T", "severity": "P2", "duration_s": 2.1, "alerts": [
    ...     {"state": "firing", "rule": "HighResponseTime", "subject": "/a"}], "notifications": []})
    'T severity P2 (2.10 s): firing HighResponseTime on /a'
    """
    active = [
        f"{a['state']} {a['rule']}" + (f" on {a['subject']}" if a["subject"] else "")
        for a in doc["alerts"]
        if a["state"] in ("pending", "firing")
    ]
    sent = [
        f"{n['kind']} {n['rule']}: "
        + (
            ", ".join(f"{d['channel']} {d['outcome']}" for d in n["deliveries"])
            or "no internal channel ([notify.email], [notify] urls)"
        )
        for n in doc["notifications"]
    ]
    tail = "; ".join(active + sent) or "no alerts"
    return f"{doc['started_at']} severity {doc['severity'] or '-'} ({doc['duration_s']:.2f} s): {tail}"
