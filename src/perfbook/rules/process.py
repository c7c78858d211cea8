"""Process rules: a process eating CPU (``process.cpu_hog``) and steady RSS growth
(``process.memory_growth``), pure.

CPU is judged over the whole window, in % of one core, for the configured processes (process
probe) and for any other busy process the host probe saw (its evidence says ``matched: false``,
so cause ranking can tell "the backend" from "another process on the host"). Growth is the
least-squares slope of RSS over ≥ 10 samples with R² ≥ 0.9: a steady climb, not one allocation.
perfbook's own process and its children are never findings (the probes mark or drop them).
"""

from __future__ import annotations

from collections.abc import Mapping

from perfbook.codes import action, finding
from perfbook.config import Config, Thresholds
from perfbook.model import Action, Evidence, Finding
from perfbook.probes.host import HostEvidence
from perfbook.probes.process import ProcessEvidence, WatchedProcess
from perfbook.rules import usable
from perfbook.trend import linear_fit

MIN_SAMPLES = 10  # DESIGN.md: growth needs at least 10 samples …
MIN_R2 = 0.9  # … and a straight line that explains them
MIB = 1024 * 1024


def evaluate(evidence: Mapping[str, Evidence], cfg: Config) -> list[Finding]:
    """Findings from the process probe, plus CPU hogs among the host probe's top processes."""
    th = cfg.thresholds
    out: list[Finding] = []
    seen: set[int] = set()
    proc: ProcessEvidence | None = usable(evidence.get("process"))
    for p in proc.processes if proc else ():
        seen.add(p.pid)
        out += _cpu_hog(p.name, p.pid, p.cpu_pct, p.rss_bytes, p.cmdline, p.matched_by, th, p)
        out += _growth(p, th)
    host: HostEvidence | None = usable(evidence.get("host"))
    for t in host.top_cpu if host else ():
        if t.pid not in seen and not t.own:
            out += _cpu_hog(t.name, t.pid, t.cpu_pct, t.rss_bytes, t.cmdline, t.matched_by, th)
    return out


def growth_mb_per_min(p: WatchedProcess) -> tuple[float, float, int] | None:
    """(RSS slope in MB/min, R², samples) over the window, or None with fewer than 2 usable samples."""
    ts, rss = p.sample_t_s, p.sample_rss_bytes
    if len(ts) < 2 or len(ts) != len(rss) or ts[-1] <= ts[0]:
        return None
    fit = linear_fit(ts, [b / MIB for b in rss])
    return fit.slope * 60.0, fit.r2, fit.samples


def _evidence(pid: int, cmdline: str, matched_by: str | None, rss_bytes: int | None,
              p: WatchedProcess | None = None) -> dict[str, object]:
    ev: dict[str, object] = {"pid": pid, "cmdline": cmdline, "matched": matched_by is not None, "matched_by": matched_by,
                             "rss_mb": round(rss_bytes / MIB, 1) if rss_bytes is not None else None}
    if p is not None and (p.unit or p.container_id):
        ev.update(unit=p.unit, container_id=p.container_id)
    return ev


def _actions(name: str, pid: int, matched_by: str | None, inspect: Action, p: WatchedProcess | None = None) -> list[Action]:
    if matched_by is None:  # not ours to restart: look, and make it yield the CPU to the service
        return [inspect, Action("process.renice", f"lower {name}[{pid}]'s CPU priority (reversible)",
                                f"renice -n 10 -p {pid}")]
    if p is not None and p.unit:
        manual = f"systemctl restart {p.unit}"
    elif p is not None and p.container_id:
        manual = f"docker restart {p.container_id}"
    else:  # never pkill -f: find the service that owns the pid, restart that
        manual = f"systemctl status {pid} --no-pager | head -3  # names the unit; then: systemctl restart UNIT"
    restart = action("process.restart", f"restart {name} through its configured restart command", manual,
                     pid=pid, name=name)
    return [inspect, restart]


def _cpu_hog(
    name: str, pid: int, cpu_pct: float | None, rss_bytes: int | None, cmdline: str, matched_by: str | None,
    th: Thresholds, watched: WatchedProcess | None = None,
) -> list[Finding]:
    if cpu_pct is None or cpu_pct <= th.process_cpu_pct:
        return []
    who = "" if matched_by is not None else " (not a configured process)"
    inspect = Action("process.top_threads", f"see {name}[{pid}]'s busiest threads", f"top -b -n 1 -H -p {pid} | head -20")
    return [finding(
        "process.cpu_hog", f"{name}[{pid}]", f"{name}[{pid}] uses {cpu_pct:.0f} % of a core across the window{who}",
        value=cpu_pct, threshold=th.process_cpu_pct, unit="% of one core, window mean",
        evidence={**_evidence(pid, cmdline, matched_by, rss_bytes, watched), "cpu_pct": cpu_pct},
        actions=_actions(name, pid, matched_by, inspect, watched),
    )]


def _growth(p: WatchedProcess, th: Thresholds) -> list[Finding]:
    fit = growth_mb_per_min(p)
    if fit is None:
        return []
    slope, r2, samples = fit
    if samples < MIN_SAMPLES or r2 < MIN_R2 or slope <= th.memory_growth_mb_per_min:
        return []
    first, last = p.sample_rss_bytes[0] / MIB, p.sample_rss_bytes[-1] / MIB
    inspect = Action("process.memory_status", f"see {p.name}[{p.pid}]'s memory breakdown",
                     f"grep -E '^(VmRSS|RssAnon|RssFile|VmSwap|Threads)' /proc/{p.pid}/status")
    return [finding(
        "process.memory_growth", f"{p.name}[{p.pid}]",
        f"{p.name}[{p.pid}] RSS grows {slope:.0f} MB/min ({first:.0f} → {last:.0f} MB in {p.sample_t_s[-1]:.1f} s, "
        f"R² {r2:.2f})",
        value=round(slope, 1), threshold=th.memory_growth_mb_per_min, unit="MB/min (least-squares RSS slope)",
        evidence={**_evidence(p.pid, p.cmdline, p.matched_by, p.rss_bytes, p), "r2": round(r2, 3), "samples": samples,
                  "rss_first_mb": round(first, 1), "rss_last_mb": round(last, 1), "cpu_pct": p.cpu_pct},
        actions=_actions(p.name, p.pid, p.matched_by, inspect, p),
    )]
