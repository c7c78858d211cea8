"""The Markdown report (``perfbook triage --markdown FILE``): for an incident channel or ticket. Pure."""

from __future__ import annotations

from perfbook.config import Thresholds
from perfbook.model import Report
from perfbook.report.kpi import kpi_rows, loop_lag_line, unreliable_line
from perfbook.severity import critical_caveat


def report_to_markdown(report: Report, th: Thresholds) -> str:
    """The report as Markdown: severity, cause, KPIs, findings with fixes, probes."""
    sev = report.severity.value if report.severity is not None else "no verdict"
    caveat = critical_caveat(report)
    title = f"{sev}, with critical findings" if caveat else sev
    out = [f"# perfbook triage: {title}", "", f"**{caveat or report.severity_reason}**", ""]
    if report.causes:
        top = report.causes[0]
        out += [f"Likely cause ({top.confidence:.0%}): {top.summary}", ""]
    if report.also_seen:
        out += ["Also seen (nothing in the evidence links these to the endpoints in trouble):", ""]
        out += [f"- [{c.layer or '?'}] {c.summary}" for c in report.also_seen] + [""]
    lag = report.loop_lag
    if lag is not None and lag.unreliable:
        out += (
            [loop_lag_line(lag), ""] + [f"- unreliable: {unreliable_line(u)}" for u in lag.unreliable] + [""]
        )
    out += [f"Started {report.started_at}, window {report.window_s:g} s, took {report.duration_s:.2f} s.", ""]
    out += ["## KPIs", "", "| KPI | now | target | status |", "|---|---|---|---|"]
    out += [f"| {r.name} | {r.value} | {r.target} | {r.status} |" for r in kpi_rows(report.kpis, th)]
    out += ["", "## Findings", ""]
    if not report.findings:
        out.append("No findings.")
    for f in report.findings:
        out.append(f"- **{f.level.value}** `{f.code}` {f.subject}: {f.title}")
        for a in f.actions:
            cmd = f" — `{a.command}`" if a.command else ""
            out.append(f"  - fix: {a.summary}{cmd}; manual: `{a.manual}`")
    out += ["", "## Probes", "", "| probe | status | time | reason |", "|---|---|---|---|"]
    out += [
        f"| {n} | {e.status} | {e.duration_s:.2f} s | {e.reason or ''} |" for n, e in report.probes.items()
    ]
    return "\n".join(out) + "\n"
