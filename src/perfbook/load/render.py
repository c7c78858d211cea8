"""Terminal output of load tests: the live progress view (stderr) and the summary table."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.table import Table
from rich.text import Text

from perfbook.load.engine import Snapshot
from perfbook.load.slo import Verdict
from perfbook.units import format_bytes, format_duration, sparkline

LATENCY_COLUMNS = (  # (label, key of the latency summary), in the order reports show them
    ("mean", "mean_s"),
    ("p50", "p50_s"),
    ("p90", "p90_s"),
    ("p95", "p95_s"),
    ("p99", "p99_s"),
    ("p99.9", "p999_s"),
    ("max", "max_s"),
)


def progress_line(snap: Snapshot, planned_s: float | None = None, planned_n: int | None = None) -> Text:
    """One line: elapsed, requests, current rps, p50 / p99 of the last interval, errors."""
    done = ""
    if planned_n:
        done = f" ({snap.requests / planned_n:.0%})"
    elif planned_s:
        done = f" / {format_duration(planned_s)}"
    text = Text()
    text.append(f"{format_duration(snap.elapsed_s)}{done}", style="bold")
    text.append(f"  requests {snap.requests:,}  rps {snap.interval_rps:,.0f}")
    text.append(f"  p50 {format_duration(snap.p50_s)}  p99 {format_duration(snap.p99_s)}")
    text.append(f"  errors {snap.errors:,}", style="red" if snap.errors else "")
    return text


class LiveProgress:
    """The live view on stderr, only when ``enabled`` (default: stderr is a terminal), never mixed
    into --json's stdout. The CLI enables it when a person is watching (``Env.interactive``)."""

    def __init__(
        self,
        planned_s: float | None = None,
        planned_n: int | None = None,
        console: Console | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.planned_s = planned_s
        self.planned_n = planned_n
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self._live: Live | None = None

    def __enter__(self) -> LiveProgress:
        if self.enabled:
            self._live = Live(Text("starting…"), console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def __call__(self, snap: Snapshot) -> None:
        if self._live is not None:
            self._live.update(progress_line(snap, self.planned_s, self.planned_n))


def _ms(value: float | None) -> str:
    return format_duration(value)


def summary(doc: dict[str, Any], verdicts: list[Verdict] | None = None) -> Group:
    """The end-of-run summary a person reads in five seconds."""
    head = Text()
    head.append(f"{doc['method']} {doc['target']}\n", style="bold")
    mode = "closed loop" if doc["mode"] == "closed" else f"open loop at {doc['rate_rps']:,.0f} rps (peak)"
    head.append(
        f"{doc['requests']:,} requests in {format_duration(doc['duration_s'])}: "
        f"{doc['rps']:,.0f} rps, {format_bytes(doc['bytes'])} read, {doc['connections']} connections, "
        f"{doc['workers']} worker{'s' if doc['workers'] != 1 else ''}, {mode}"
    )
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("latency")
    for name, _ in LATENCY_COLUMNS:
        table.add_column(name, justify="right")
    rows = [("corrected" if doc["mode"] == "open" else "", doc["latency"])]
    if doc["mode"] == "open":
        rows.append(("uncorrected", doc["latency_uncorrected"]))
    for label, lat in rows:
        table.add_row(label, *(_ms(lat[key]) for _, key in LATENCY_COLUMNS))
    parts: list[Any] = [head, table, _codes_line(doc)]
    if len(doc.get("series") or []) > 1:
        parts.append(SeriesLines(doc["series"]))
    for kind, text in (doc.get("error_examples") or {}).items():
        parts.append(Text(f"  {kind}: {text}", style="red"))
    if doc.get("watch"):
        parts.append(_watch_line(doc["watch"]))
    if doc.get("cluster"):
        from perfbook.load.cluster_report import cluster_table

        parts.append(cluster_table(doc["cluster"]))
    if doc.get("rate"):
        parts.append(rate_line(doc["rate"]))
    if doc.get("aborted"):
        parts.append(Text(f"aborted early: {doc['aborted']}", style="bold red"))
    if doc.get("interrupted"):
        parts.append(Text("interrupted: figures cover the part that ran", style="yellow"))
    for v in verdicts or []:
        mark, style = ("✓ met", "green") if v.met else ("✗ MISSED", "bold red")
        actual = _format_actual(v)
        parts.append(Text(f"SLO {v.objective.text():<16} {mark:<9} actual {actual}", style=style))
    return Group(*parts)


def _squeeze(values: list[float | None], width: int, pick: Any) -> list[float | None]:
    """``values`` in at most ``width`` points: consecutive seconds grouped, each group by ``pick``."""
    if len(values) <= width:
        return values
    out: list[float | None] = []
    for i in range(width):
        group = [
            v for v in values[i * len(values) // width : (i + 1) * len(values) // width] if v is not None
        ]
        out.append(pick(group) if group else None)
    return out


def series_lines(series: list[dict[str, Any]], width: int) -> list[str]:
    """The per-second series as two sparklines, rps and p95, each line at most ``width`` long.

    Bars rise from zero to the run's highest second; more seconds than the line has room for
    are grouped (rps: their mean, p95: their worst).

    >>> rows = [{"requests": n, "p95_s": p} for n, p in ((100, 0.02), (200, 0.02), (200, 0.04))]
    >>> print("\\n".join(series_lines(rows, 60)))
    rps/s ▅██  100–200
    p95/s ▅▅█  20.0 ms–40.0 ms
    """
    rps: list[float | None] = [float(row["requests"]) for row in series]
    p95: list[float | None] = [row["p95_s"] for row in series]
    lines = []
    for label, values, pick, fmt in (
        ("rps/s", rps, lambda g: sum(g) / len(g), lambda v: f"{v:,.0f}"),
        ("p95/s", p95, max, format_duration),
    ):
        known = [v for v in values if v is not None]
        if not known:
            continue
        tail = f"  {fmt(min(known))}–{fmt(max(known))}"
        room = max(width - len(label) - 1 - len(tail), 1)
        line = f"{label} {sparkline(_squeeze(values, room, pick), floor=0.0)}{tail}"
        lines.append(line[:width])
    return lines


class SeriesLines:
    """The series' sparklines, drawn for the width the console gives them."""

    def __init__(self, series: list[dict[str, Any]]) -> None:
        self.series = series

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in series_lines(self.series, options.max_width):
            yield Text(line, no_wrap=True, overflow="crop")


def rate_line(rate: dict[str, Any]) -> Text:
    """Open loop: target against achieved, the connections it took and the drain; the limit when missed.

    >>> print(str(rate_line({"target_rps": 500.0, "achieved_rps": 499.75, "scheduled": 2000, "sent": 1999,
    ...     "not_sent": 1, "waited": 0, "peak_connections": 31, "max_connections": 1000, "drain_s": 10.0, "kept": True,
    ...     "limit": None, "reason": None})).replace("; ", ";\\n"))
    rate kept: target 500 rps, achieved 500 rps (1,999 of 2,000 sent), up to 31 of --max-connections 1000;
    drain up to 10 s
    """
    head = "rate kept" if rate["kept"] else "rate MISSED"
    text = (
        f"{head}: target {rate['target_rps']:,.0f} rps, achieved {rate['achieved_rps']:,.0f} rps "
        f"({rate['sent']:,} of {rate['scheduled']:,} sent), up to {rate['peak_connections']:,} of "
        f"--max-connections {rate['max_connections']}; drain up to {rate['drain_s']:g} s"
    )
    if not rate["kept"]:
        text += f"\n  limit: {rate['limit']}" + (
            f" — {rate['waited']:,} requests waited for a free connection" if rate["waited"] else ""
        )
    return Text(text, style="green" if rate["kept"] else "bold red")


def _codes_line(doc: dict[str, Any]) -> Text:
    codes = ", ".join(f"{code}: {n:,}" for code, n in doc["status_codes"].items()) or "none"
    errors = {k: n for k, n in doc["errors"].items() if n}
    line = Text(f"status {codes}")
    if errors:
        line.append("   errors " + ", ".join(f"{k}: {n:,}" for k, n in errors.items()), style="red")
    else:
        line.append("   no errors", style="green")
    return line


def _watch_line(watch: dict[str, Any]) -> Text:
    line = Text("resources during the test: ")
    line.append(
        f"host CPU mean {watch['host_cpu_pct_mean']:.0f}% max {watch['host_cpu_pct_max']:.0f}%, "
        f"memory max {watch['host_memory_pct_max']:.0f}%"
    )
    busiest = sorted(watch.get("processes", []), key=lambda p: -p["cpu_pct_max"])[:4]
    for proc in busiest:
        line.append(
            f"; {proc['name']}[{proc['pid']}] CPU max {proc['cpu_pct_max']:.0f}% "
            f"RSS max {format_bytes(proc['rss_bytes_max'])}"
        )
    return line


def _format_actual(v: Verdict) -> str:
    if v.actual is None:
        return "n/a"
    if v.objective.metric == "errors":
        return f"{v.actual:.2%}"
    if v.objective.metric == "rps":
        return f"{v.actual:,.0f} rps"
    return format_duration(v.actual)


def print_summary(
    doc: dict[str, Any], verdicts: list[Verdict] | None = None, console: Console | None = None
) -> None:
    """Print :func:`summary` to stdout."""
    (console or Console(file=sys.stdout)).print(summary(doc, verdicts))


def step_line(row: dict[str, Any]) -> str:
    """One capacity step as it finishes (stderr)."""
    lat = row["latency"]
    missed = row["missed"] + (["the rate (perfbook's limit)"] if row.get("client_limit") else [])
    mark = "met" if row["met"] else "MISSED " + ", ".join(missed)
    return (
        f"step {row['rate_rps']:>9,.0f} rps offered: {row['rps']:>9,.0f} achieved, "
        f"p95 {format_duration(lat['p95_s'])}, p99 {format_duration(lat['p99_s'])}, "
        f"errors {row['error_rate']:.2%}: {mark}"
    )


def _slo_cell(row: dict[str, Any]) -> str:
    """met; missed (the SLO); or not sent (only perfbook's limit kept the step from its rate)."""
    if row["met"]:
        return "[green]met[/]"
    if row.get("client_limit") and not row["missed"]:
        return "[yellow]not sent[/]"
    return "[red]missed[/]"


def capacity_table(report: dict[str, Any]) -> Group:
    """The table of steps (by offered rate) and the knee."""
    table = Table(box=None, title=f"capacity of {report['target']} ({', '.join(report['slo'])})")
    for col in ("offered rps", "achieved rps", "p50", "p95", "p99", "errors", "SLO"):
        table.add_column(col, justify="right")
    for row in sorted(report["steps"], key=lambda s: s["rate_rps"]):
        lat = row["latency"]
        table.add_row(
            f"{row['rate_rps']:,.0f}",
            f"{row['rps']:,.0f}",
            _ms(lat["p50_s"]),
            _ms(lat["p95_s"]),
            _ms(lat["p99_s"]),
            f"{row['error_rate']:.2%}",
            _slo_cell(row),
        )
    knee = report["knee_rps"]
    line = Text(
        f"knee: {knee:,.0f} rps" if knee else "knee: none", style="bold green" if knee else "bold red"
    )
    line.append(f"  ({report['reason']})", style="")
    return Group(table, line)


def stress_summary(doc: dict[str, Any]) -> Group:
    """A stress test's throughput, latency and errors."""
    unit = {"postgres": "queries", "redis": "commands", "connections": "connections"}.get(
        doc["kind"], "operations"
    )
    head = Text(f"stress {doc['kind']} {doc['target']}\n", style="bold")
    head.append(
        f"{doc['operations']:,} {unit} in {format_duration(doc['duration_s'])}: "
        f"{doc['ops_per_s']:,.0f} {unit}/s, concurrency {doc['concurrency']}"
    )
    if doc.get("pipeline"):
        head.append(f", pipelines of {doc['pipeline']} SET+GET pairs (latency per pipeline)")
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("latency")
    for name, _ in LATENCY_COLUMNS:
        table.add_column(name, justify="right")
    table.add_row("", *(_ms(doc["latency"][key]) for _, key in LATENCY_COLUMNS))
    errors = {k: n for k, n in doc["errors"].items() if n}
    tail = (
        Text("errors " + ", ".join(f"{k}: {n:,}" for k, n in errors.items()), style="red")
        if errors
        else Text("no errors", style="green")
    )
    if "keys_left" in doc:
        tail.append(f"   keys left behind: {doc['keys_left']}", style="" if doc["keys_left"] == 0 else "red")
    return Group(head, table, tail)
