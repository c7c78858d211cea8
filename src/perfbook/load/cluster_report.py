"""A cluster run's merged result: the local run's JSON plus ``cluster`` (one row per worker), and its table.

The merged figures are :class:`~perfbook.load.result.LoadResult`'s own: counters summed and the
workers' HDR histograms added bucket by bucket, which is exactly the histogram all their samples
would have made together (never an average of percentiles). A worker that was lost mid-run is
not in them: its row carries what its last progress report counted, and the run is ``partial``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from perfbook.load import hist
from perfbook.load.engine import Snapshot
from perfbook.load.result import LoadResult
from perfbook.units import format_duration

if TYPE_CHECKING:
    from perfbook.load.cluster import ClusterWorker
    from perfbook.load.cluster_worker import ShareOutcome
    from perfbook.load.runner import LoadRun

FAILED_STATES = ("lost", "failed", "refused")


@dataclass
class WorkerRow:
    """One worker's part of the run, as the per-worker table and ``cluster.workers[]`` show it."""

    name: str
    address: str
    host: str
    pid: int
    clock_offset_s: float  # its clock minus ours
    clock_uncertainty_s: float  # ± this
    status: str = "running"  # ok | aborted | lost | failed | refused
    requests: int = 0
    responses: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # transport errors by kind, and 5xx
    error_rate: float = 0.0
    rps: float = 0.0
    duration_s: float = 0.0
    cpu_s: float = 0.0  # the worker process's CPU during its share (user + system)
    cpu_pct: float = 0.0  # of one core
    start_error_s: float | None = None  # when its engine started, minus when it was asked to
    latency: dict[str, float | None] = field(default_factory=dict)
    reason: str | None = None
    last_report_s: float | None = None  # lost: seconds into the run of its last progress report

    @classmethod
    def of(cls, worker: ClusterWorker) -> WorkerRow:
        return cls(
            worker.name,
            worker.address,
            worker.host,
            worker.pid,
            worker.clock.offset_s,
            worker.clock.uncertainty_s,
        )

    def take(self, outcome: ShareOutcome) -> None:
        """Fill the row from what the worker returned."""
        self.reason = outcome.refused or outcome.stop_reason
        self.start_error_s = round(outcome.start_error_s, 6) if outcome.result else None
        part = outcome.result
        if part is None:
            self.status = "refused" if outcome.refused else "ok"
            return
        server_errors = sum(n for code, n in part.status_codes.items() if code.startswith("5"))
        self.errors = {k: n for k, n in part.errors.items() if n}
        if server_errors:
            self.errors["5xx"] = server_errors
        self.responses = part.responses
        self.requests = part.responses + sum(part.errors.values())
        self.error_rate = round(sum(self.errors.values()) / self.requests, 6) if self.requests else 0.0
        self.duration_s = round(part.duration_s, 6)
        self.rps = round(part.responses / part.duration_s, 3) if part.duration_s > 0 else 0.0
        self.cpu_s = round(outcome.cpu_s, 3)
        self.cpu_pct = round(100 * outcome.cpu_s / part.duration_s, 1) if part.duration_s > 0 else 0.0
        own = hist.new_histogram()
        hist.decode_into(own, part.latency)
        self.latency = hist.latency_summary(own)
        stopped_itself = outcome.stop_reason and outcome.stop_reason != "stopped by the client"
        self.status = "aborted" if stopped_itself else "ok"

    def lose(self, last: Snapshot | None, reason: str) -> None:
        """The worker left mid-run: keep what its last progress report counted."""
        self.status, self.reason = "lost", reason
        if last is not None:
            self.requests, self.responses = last.requests, last.responses
            self.errors = {"errors": last.errors} if last.errors else {}
            self.last_report_s = round(last.elapsed_s, 3)

    def fail(self, reason: str) -> None:
        self.status, self.reason = "failed", reason


@dataclass
class ClusterLoadResult(LoadResult):
    """:class:`LoadResult` of a cluster run, with the scheduler and one :class:`WorkerRow` per worker."""

    scheduler: str = ""
    rows: list[WorkerRow] = field(default_factory=list)

    @classmethod
    def for_run(cls, run: LoadRun, scheduler: str, workers: int) -> ClusterLoadResult:
        stages = run.plan.stages
        return cls(
            target=run.target,
            method=run.method,
            mode="open" if stages else "closed",
            connections=run.plan.connections,
            workers=workers,
            rate_rps=max(max(s.from_rps, s.to_rps) for s in stages) if stages else None,
            stages=[{"duration_s": s.duration_s, "from_rps": s.from_rps, "to_rps": s.to_rps} for s in stages],
            scheduler=scheduler,
            drain_s=run.plan.timeout_s if stages else 0.0,
        )

    def finish(self, rows: list[WorkerRow]) -> None:
        """Take the rows; a worker that stopped itself on errors makes the run ``aborted``."""
        self.rows = rows
        for row in rows:
            if row.status == "aborted" and not self.aborted:
                self.aborted = f"{row.name}: {row.reason}"

    @property
    def partial(self) -> bool:
        """True when a worker was lost, failed or refused: the figures miss its share."""
        return any(r.status in FAILED_STATES for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        doc = super().to_json()
        doc["cluster"] = {
            "scheduler": self.scheduler,
            "partial": self.partial,
            "missing": [r.name for r in self.rows if r.status in FAILED_STATES],
            "workers": [asdict(r) for r in self.rows],
        }
        return doc


def _offset(row: dict[str, Any]) -> str:
    ms, pm = row["clock_offset_s"] * 1e3, row["clock_uncertainty_s"] * 1e3
    return f"{ms:+.1f} ms ± {pm:.1f}"


def cluster_table(cluster: dict[str, Any]) -> Group:
    """The per-worker table and the notes on partial runs and clocks (below the summary)."""
    table = Table(
        box=None,
        pad_edge=False,
        show_edge=False,
        title_justify="left",
        title=f"workers (Dask scheduler {cluster['scheduler']})",
    )
    for col, justify in (
        ("worker", "left"),
        ("host", "left"),
        ("requests", "right"),
        ("rps", "right"),
        ("errors", "right"),
        ("p99", "right"),
        ("CPU", "right"),
        ("clock offset", "right"),
        ("status", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]  # left / right
    for row in cluster["workers"]:
        errors = sum(row["errors"].values())
        style = "red" if row["status"] in FAILED_STATES else "yellow" if row["status"] == "aborted" else ""
        table.add_row(
            row["name"],
            row["host"],
            f"{row['requests']:,}",
            f"{row['rps']:,.0f}",
            Text(f"{errors:,}", style="red" if errors else ""),
            format_duration(row["latency"].get("p99_s")) if row["latency"] else "-",
            f"{row['cpu_pct']:.0f}%" if row["status"] not in FAILED_STATES else "-",
            _offset(row),
            Text(row["status"], style=style),
        )
    parts: list[Any] = [table]
    for row in cluster["workers"]:
        kinds = ", ".join(f"{k}: {n:,}" for k, n in row["errors"].items())
        if row["status"] == "lost":
            seen = (
                f"{row['requests']:,} requests by its last report at {row['last_report_s']:g}s"
                if row["last_report_s"] is not None
                else "no report before it left"
            )
            parts.append(
                Text(
                    f"{row['name']} ({row['address']}) lost: {row['reason']}; {seen}, "
                    "not in the figures above",
                    style="bold red",
                )
            )
        elif row["status"] in ("failed", "refused"):
            parts.append(
                Text(f"{row['name']} ({row['address']}) {row['status']}: {row['reason']}", style="bold red")
            )
        elif kinds:
            parts.append(Text(f"{row['name']} errors: {kinds}", style="red"))
    if cluster["partial"]:
        parts.append(
            Text(
                f"partial: {', '.join(cluster['missing'])} missing from the merged figures", style="bold red"
            )
        )
    spread = [
        abs(r["start_error_s"]) + r["clock_uncertainty_s"]
        for r in cluster["workers"]
        if r["start_error_s"] is not None
    ]
    if spread:
        parts.append(
            Text(
                f"started together within {max(spread) * 1e3:.1f} ms of the agreed instant "
                "(clock offsets measured against this machine)",
                style="dim",
            )
        )
    return Group(*parts)
