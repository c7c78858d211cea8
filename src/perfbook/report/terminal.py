"""The terminal report (Rich): severity banner, top cause, KPIs, findings with evidence and fixes, probes.

Pure builders (``build_*``) return Rich renderables; :func:`print_report` emits them. Every line
follows :mod:`perfbook.report.text`: wrapped text hangs under its own start, nothing passes the
terminal's width, and a reason said once is not repeated (the places it applies to are listed).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from perfbook.config import Thresholds
from perfbook.model import Evidence, Finding, Level, Report, Severity
from perfbook.report.kpi import LAG_SHOWN_MS, kpi_rows, loop_lag_line, unreliable_line
from perfbook.report.text import grouped, hang, paragraph, said_in
from perfbook.severity import critical_caveat
from perfbook.units import format_bytes, format_duration

SEVERITY_STYLE = {
    Severity.P0: "bold white on red",
    Severity.P1: "bold red",
    Severity.P2: "bold yellow",
    Severity.P3: "yellow",
    Severity.OK: "bold green",
    None: "bold blue",
}
LEVEL_STYLE = {Level.CRITICAL: "bold red", Level.WARNING: "yellow", Level.INFO: "cyan"}
WEAK_CAUSE = 0.3  # a cause at or under this is a weak candidate (a healthy stack has none above it)
STATUS_STYLE = {
    "ok": "green",
    "partial": "yellow",
    "unavailable": "red",
    "skipped": "dim",
    "error": "bold magenta",
    "pass": "green",
    "fail": "bold red",
    "not measured": "dim",
    "few samples": "dim yellow",
    "uncertain": "yellow",
}


def build_banner(report: Report) -> RenderableType:
    """The first lines: severity with its reason, the top cause, and what was triaged."""
    sev = report.severity.value if report.severity is not None else "no verdict"
    style, reason = SEVERITY_STYLE[report.severity], report.severity_reason
    caveat = critical_caveat(report)
    if caveat:  # never a green OK over a blocked database (2026-12-01)
        style, reason = "bold white on red", caveat
    lines: list[RenderableType] = [hang(Text.assemble((f" {sev} ", style), "  "), reason or "")]
    if report.causes:
        top = report.causes[0]
        label = "likely cause: " if top.confidence > WEAK_CAUSE else "possible cause (weak): "
        lines.append(
            hang(
                Text(label, style="bold"),
                Text.assemble(_unsaid(top.summary, reason or ""), (f"  ({top.confidence:.0%})", "dim")),
            )
        )
    elif report.findings and any(f.level is not Level.INFO for f in report.findings):
        strongest = ", ".join(f.key for f in report.findings[:3])
        lines.append(paragraph(f"no single cause found; the strongest signals are {strongest}", style="dim"))
    if report.issue_types:
        lines.append(paragraph("issue types: " + ", ".join(t.value for t in report.issue_types), style="dim"))
    target = report.target
    where = ", ".join(f"{k} {v}" for k, v in target.items() if k not in ("sources", "config"))
    lines.append(
        paragraph(
            f"targets: {where}; window {report.window_s:g} s; took {report.duration_s:.2f} s", style="dim"
        )
    )
    return Panel(Group(*lines), title="perfbook triage", title_align="left", border_style=style.split()[-1])


def _unsaid(summary: str, already: str) -> str:
    """``summary`` without its first clause when ``already`` said it (the banner's severity reason)."""
    first, sep, rest = summary.partition("; ")
    if sep and said_in(first, already):
        return "as above; " + rest
    return "as above" if said_in(summary, already) else summary


_REASON = re.compile(r"^([+-]\d+\.\d+) (.*?)( \[[^\]]+\])?$")


def _cause_reason(reason: str, summary: str) -> str:
    """``+0.40 TEXT [code, level]``, TEXT left out when the cause's summary already says it."""
    m = _REASON.match(reason)
    if m is None or not said_in(m.group(2), summary):
        return reason
    return f"{m.group(1)} as the summary says{m.group(3) or ''}"


def build_causes(report: Report) -> RenderableType:
    """The ranked causes: confidence, layer, summary, what raised or lowered it, and the first fix."""
    blocks: list[RenderableType] = [Text("Causes, most likely first (dim: weak, 30 % or less)", style="bold")]
    for i, c in enumerate(report.causes, 1):
        style = "bold" if c.confidence > WEAK_CAUSE else "dim"
        head = Text.assemble((f"{i}. {c.confidence:.0%} ", style), (f"[{c.layer or '?'}] ", "cyan"))
        blocks.append(hang(head, c.summary))
        reasons = [_cause_reason(r, c.summary) for r in c.reasons]
        blocks += [hang("", r, indent=5, style="dim") for r in reasons]
        if c.action is not None and c.action.command:
            blocks.append(hang("$ ", c.action.command, indent=5, style="cyan"))
        elif c.action is not None:
            blocks.append(hang("manual: ", c.action.manual, indent=5, style="dim"))
    return Group(*blocks)


def build_loop_lag(report: Report) -> RenderableType | None:
    """perfbook's own event loop during the window, when it stalled enough to matter, and the
    latency figures its stalls explain (unreliable: no finding raised on them)."""
    lag = report.loop_lag
    if lag is None or (not lag.unreliable and (lag.max_ms or 0.0) < LAG_SHOWN_MS):
        return None
    lines = [paragraph(loop_lag_line(lag), style="yellow" if lag.unreliable else "dim")]
    lines += [hang("unreliable: ", unreliable_line(u), indent=2, style="yellow") for u in lag.unreliable]
    return Group(*lines)


def build_also_seen(report: Report) -> RenderableType | None:
    """Causes nothing in the evidence links to the endpoints in trouble: listed, never as an explanation."""
    if not report.also_seen:
        return None
    blocks: list[RenderableType] = [
        paragraph(
            "Also seen (nothing in the evidence links these to the endpoints in trouble: not an explanation)",
            style="bold",
        )
    ]
    blocks += [hang(f"- [{c.layer or '?'}] ", c.summary, indent=2, style="dim") for c in report.also_seen]
    return Group(*blocks)


def build_kpi_table(report: Report, th: Thresholds) -> Table:
    """KPIs against their thresholds: pass / fail / not measured."""
    table = Table(title="KPIs", title_justify="left", show_edge=False)
    for col in ("KPI", "now", "target", ""):
        table.add_column(col)
    for row in kpi_rows(report.kpis, th):
        table.add_row(row.name, row.value, row.target, Text(row.status, style=STATUS_STYLE[row.status]))
    return table


def cause_fixes(report: Report) -> dict[str, int]:
    """The fixes the causes list shows (command or manual -> cause number): findings refer to them."""
    shown: dict[str, int] = {}
    for i, c in enumerate(report.causes, 1):
        if c.action is not None:
            shown.setdefault(c.action.command or c.action.manual, i)
    return shown


def build_findings(
    findings: list[Finding], verbose: bool = False, shown: dict[str, int] | None = None
) -> RenderableType:
    """Each finding: level, code, subject, title, value against threshold, evidence, fixes (a fix the
    causes above already show, by its number: ``shown`` from :func:`cause_fixes`)."""
    shown = shown or {}
    if not findings:
        return Text("no findings", style="green")
    blocks: list[RenderableType] = [Text("Findings", style="bold")]
    for f in findings:
        tag = f.level.value + (" (few samples)" if f.low_confidence else "")
        blocks.append(
            hang(Text.assemble((f"{tag:<9} ", LEVEL_STYLE[f.level]), (f.code, "bold"), "  "), f.subject)
        )
        title = f.title + _value_text(f)
        blocks.append(hang("", title, indent=4))
        ev = _evidence_line(_unsaid_evidence(f.evidence, title), limit=None if verbose else 160)
        if ev:
            blocks.append(hang("evidence: ", ev, indent=4, style="dim"))
        for a in f.actions:
            if (a.command or a.manual) in shown:
                blocks.append(
                    hang(
                        Text("fix: ", style="green"),
                        f"{a.summary} (as cause {shown[a.command or a.manual]} above)",
                        indent=4,
                    )
                )
                continue
            blocks.append(hang(Text("fix: ", style="green"), a.summary, indent=4))
            if a.command:
                blocks.append(hang("$ ", a.command, indent=6, style="cyan"))
            blocks.append(hang("manual: ", a.manual, indent=6, style="dim"))
    return Group(*blocks)


def build_probe_table(probes: dict[str, Evidence]) -> Table:
    """Each probe's status and time, and why when it did not run fully; probes that failed for the
    same reason share one row (``http, metrics``), so the reason is said once."""
    table = Table(title="Probes", title_justify="left", show_edge=False)
    for col in ("probe", "status", "time", "reason"):
        table.add_column(col, overflow="fold")
    rows = grouped(
        ((name, ev), f"{ev.status}\0{ev.reason}" if ev.reason else f"{ev.status}\0\0{name}")
        for name, ev in probes.items()
    )
    for _, members in rows:
        names = ", ".join(name for name, _ in members)
        ev = max((ev for _, ev in members), key=lambda e: e.duration_s)
        count = f" ({len(members)} probes)" if len(members) > 1 else ""
        table.add_row(
            names,
            Text(ev.status, style=STATUS_STYLE[ev.status]),
            f"{ev.duration_s:.2f} s",
            Text((ev.reason or "") + count),
        )
    return table


def print_report(report: Report, th: Thresholds, console: Console, verbose: bool = False) -> None:
    """Render the whole report to ``console``."""
    console.print(build_banner(report))
    if report.causes:
        console.print(build_causes(report))
        console.print()
    for extra in (build_also_seen(report), build_loop_lag(report)):
        if extra is not None:
            console.print(extra)
            console.print()
    console.print(build_kpi_table(report, th))
    console.print()
    console.print(build_findings(report.findings, verbose, cause_fixes(report)))
    console.print()
    console.print(build_probe_table(report.probes))


def _value_text(f: Finding) -> str:
    """`` — 1.5 GiB (limit 1.0 GiB)``: a figure in bytes, s or ms in the unit a person reads.

    >>> from perfbook.model import IssueType, Level
    >>> big = Finding("redis.memory_high", Level.WARNING, IssueType.CACHE, "r", "t", 1.5 * 2**30, 2**30, "bytes")
    >>> _value_text(big), _value_text(Finding("x", Level.INFO, IssueType.DATABASE, "s", "t", 0.25, 0.1, "s"))
    (' — 1.5 GiB (limit 1.0 GiB)', ' — 250.0 ms (limit 100.0 ms)')
    """
    if f.value is None:
        return ""
    human = {"bytes": format_bytes, "s": format_duration, "ms": lambda v: format_duration(v / 1000)}.get(
        f.unit or ""
    )
    if human is not None:
        limit = f" (limit {human(f.threshold)})" if f.threshold is not None else ""
        return f" — {human(f.value)}{limit}"
    unit = f" {f.unit}" if f.unit else ""
    limit = f" (limit {f.threshold:g})" if f.threshold is not None else ""
    return f" — {f.value:.4g}{unit}{limit}"


def _unsaid_evidence(evidence: dict[str, Any], title: str) -> dict[str, Any]:
    """The evidence a finding's title does not already say (a reason is said once)."""
    return {k: v for k, v in evidence.items() if not (isinstance(v, str) and said_in(v, title))}


def _evidence_line(evidence: dict[str, Any], limit: int | None) -> str:
    text = json.dumps(evidence, default=str, ensure_ascii=False)[1:-1] if evidence else ""
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "… (all of it: --verbose)"
