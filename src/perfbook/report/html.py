"""The triage report as one self-contained HTML page (``perfbook triage --html FILE``). Pure.

The same templates as the postmortem (``report/_base.html.j2``, ``report/_macros.html.j2``):
inline CSS, no script, nothing fetched, so the file can go to a ticket or a mail as it is.
"""

from __future__ import annotations

import datetime as dt

from perfbook.config import Thresholds
from perfbook.incidents.reminders import to_iso
from perfbook.model import Report
from perfbook.report.json import report_to_dict
from perfbook.report.kpi import LAG_SHOWN_MS, kpi_rows, loop_lag_line, unreliable_line
from perfbook.severity import critical_caveat
from perfbook.templating import environment, render


def report_to_html(
    report: Report, th: Thresholds, *, templates_dir: str = "", now: dt.datetime | None = None
) -> str:
    """The report as HTML: severity, causes, KPIs against target, findings with fixes, probes, targets."""
    doc = report_to_dict(report, with_evidence=False)
    causes = [
        {
            "summary": c["summary"],
            "confidence": c["confidence"],
            "findings": c["findings"],
            "reasons": c.get("reasons") or [],
            "fix": (c.get("action") or {}).get("command"),
            "from": None,
        }
        for c in doc["causes"]
    ]
    lag = report.loop_lag
    loop_lag = (
        {"line": loop_lag_line(lag), "unreliable": [unreliable_line(u) for u in lag.unreliable]}
        if lag is not None and (lag.unreliable or (lag.max_ms or 0.0) >= LAG_SHOWN_MS)
        else None
    )
    ctx = {
        "report": doc,
        "kpis": kpi_rows(report.kpis, th),
        "causes": causes,
        "loop_lag": loop_lag,
        "now": to_iso(now or dt.datetime.now(dt.UTC)),
        "caveat": critical_caveat(report),
    }
    return render(environment(templates_dir), "report/triage.html.j2", ctx)
