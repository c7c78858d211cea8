"""Process rules: a process eating CPU (``process.cpu_hog``) and steady RSS growth
(``process.memory_growth``), pure.

CPU is judged over the whole window, in % of one core, for the configured processes (process
probe) and for any other busy process the host probe saw (its evidence says ``matched: false``,
so cause ranking can tell "the backend" from "another process on the host"; such a process is
``info``: the verdict on the configured stack never depends on what else runs on the machine,
and a host it starves shows as ``host.cpu_high``). Growth is the
least-squares slope of RSS over ≥ 10 samples with R² ≥ 0.9: a steady climb, not one allocation.
perfbook's own process and its children are never findings (the probes mark or drop them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfbook.codes import action, finding
from perfbook.config import Config
from perfbook.evidence import usable
from perfbook.evidence.host import HostEvidence
from perfbook.evidence.process import ProcessEvidence, WatchedProcess
from perfbook.model import Action, Evidence, Finding, Level
from perfbook.trend import linear_fit

MIN_SAMPLES = 10  # growth needs at least 10 samples …
MIN_R2 = 0.9  # … and a straight line that explains them
MIB = 1024 * 1024


@dataclass(frozen=True)
class _Proc:
    """What the rules need of a process, from the process probe or the host's top list."""

    name: str
    pid: int
    cpu_pct: float | None
    rss_bytes: int | None
    cmdline: str
    matched_by: str | None  # None: not a configured process
    unit: str | None = None
    container_id: str | None = None

    @property
    def subject(self) -> str:
        return f"{self.name}[{self.pid}]"


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Findings from the process probe, plus CPU hogs among the host probe's top processes."""
    out: list[Finding] = []
    seen: set[int] = set()
    proc = usable(evidence.get("process"), ProcessEvidence)
    for w in proc.processes if proc else ():
        seen.add(w.pid)
        p = _Proc(w.name, w.pid, w.cpu_pct, w.rss_bytes, w.cmdline, w.matched_by, w.unit, w.container_id)
        out += _cpu_hog(p, cfg)
        out += _growth(p, w, cfg)
        out += _fds(p, w, cfg)
        out += _throttled(p, w, cfg)
    host = usable(evidence.get("host"), HostEvidence)
    for t in host.top_cpu if host else ():
        if t.pid not in seen and not t.own:
            out += _cpu_hog(_Proc(t.name, t.pid, t.cpu_pct, t.rss_bytes, t.cmdline, t.matched_by), cfg)
    return out


def growth_mb_per_min(p: WatchedProcess) -> tuple[float, float, int] | None:
    """(RSS slope in MB/min, R², samples) over the window, or None with fewer than 2 usable samples."""
    ts, rss = p.sample_t_s, p.sample_rss_bytes
    if len(ts) < 2 or len(ts) != len(rss) or ts[-1] <= ts[0]:
        return None
    fit = linear_fit(ts, [b / MIB for b in rss])
    return fit.slope * 60.0, fit.r2, fit.samples


def restart_name(p: _Proc, restart_commands: Mapping[str, str]) -> str:
    """The ``[fix] restart_commands`` key for this process: the pattern that matched it, its
    systemd unit, or its name — the first one configured, else the first candidate (the fix then
    says which key to add)."""
    unit = p.unit.removesuffix(".service") if p.unit else None
    pattern = (
        p.matched_by
        if p.matched_by and p.matched_by != "pid" and not p.matched_by.startswith("child of")
        else None
    )
    candidates = [c for c in (pattern, unit, p.name) if c]
    return next((c for c in candidates if c in restart_commands), candidates[0])


def _evidence(p: _Proc) -> dict[str, object]:
    ev: dict[str, object] = {
        "pid": p.pid,
        "cmdline": p.cmdline,
        "matched": p.matched_by is not None,
        "matched_by": p.matched_by,
        "rss_mb": round(p.rss_bytes / MIB, 1) if p.rss_bytes else None,
    }
    if p.unit or p.container_id:
        ev.update(unit=p.unit, container_id=p.container_id)
    return ev


def _actions(p: _Proc, inspect: Action, cfg: Config) -> list[Action]:
    if p.matched_by is None:  # not ours to restart: look, and make it yield the CPU to the service
        return [
            inspect,
            Action(
                "process.renice", f"lower {p.subject}'s CPU priority (reversible)", f"renice -n 10 -p {p.pid}"
            ),
        ]
    name = restart_name(p, cfg.fix.restart_commands)
    if name in cfg.fix.restart_commands:
        manual = cfg.fix.restart_commands[name]
    elif p.unit:
        manual = f"systemctl restart {p.unit}"
    elif p.container_id:
        manual = f"docker restart {p.container_id}"
    else:  # never pkill -f: find the service that owns the pid, restart that
        manual = (
            f"systemctl status {p.pid} --no-pager | head -3  # names the unit; then: systemctl restart UNIT"
        )
    restart = action(
        "process.restart",
        f"restart {name} through its configured restart command",
        manual,
        name=name,
        pid=p.pid,
    )
    return [inspect, restart]


def _cpu_hog(p: _Proc, cfg: Config) -> list[Finding]:
    th = cfg.thresholds
    if p.cpu_pct is None or p.cpu_pct <= th.process_cpu_pct:
        return []
    who = "" if p.matched_by is not None else " (not a configured process)"
    inspect = Action(
        "process.top_threads", f"see {p.subject}'s busiest threads", f"top -b -n 1 -H -p {p.pid} | head -20"
    )
    return [
        finding(
            "process.cpu_hog",
            p.subject,
            f"{p.subject} uses {p.cpu_pct:.0f} % of a core across the window{who}",
            value=p.cpu_pct,
            threshold=th.process_cpu_pct,
            unit="% of one core, window mean",
            evidence={**_evidence(p), "cpu_pct": p.cpu_pct},
            actions=_actions(p, inspect, cfg),
            level=None if p.matched_by is not None else Level.INFO,
        )
    ]


def _growth(p: _Proc, w: WatchedProcess, cfg: Config) -> list[Finding]:
    th = cfg.thresholds
    fit = growth_mb_per_min(w)
    if fit is None:
        return []
    slope, r2, samples = fit
    if samples < MIN_SAMPLES or r2 < MIN_R2 or slope <= th.memory_growth_mb_per_min:
        return []
    first, last = w.sample_rss_bytes[0] / MIB, w.sample_rss_bytes[-1] / MIB
    inspect = Action(
        "process.memory_status",
        f"see {p.subject}'s memory breakdown",
        f"grep -E '^(VmRSS|RssAnon|RssFile|VmSwap|Threads)' /proc/{p.pid}/status",
    )
    # a process in its first minutes grows by design (JIT, caches, pools): no leak verdict yet
    young = w.age_s is not None and w.age_s < cfg.process.warmup_s
    title = (
        f"{p.subject} RSS grows {slope:.0f} MB/min ({first:.0f} → {last:.0f} MB in "
        f"{w.sample_t_s[-1] - w.sample_t_s[0]:.1f} s, R² {r2:.2f})"
    )
    if young:
        title += (
            f", but it started {w.age_s:.0f} s ago, within its {cfg.process.warmup_s:.0f} s warm-up "
            "([process] warmup_s): growth then is no leak; triage again once it is warm"
        )
    return [
        finding(
            "process.memory_growth",
            p.subject,
            title,
            value=round(slope, 1),
            threshold=th.memory_growth_mb_per_min,
            unit="MB/min (least-squares RSS slope)",
            evidence={
                **_evidence(p),
                "r2": round(r2, 3),
                "samples": samples,
                "rss_first_mb": round(first, 1),
                "rss_last_mb": round(last, 1),
                "cpu_pct": w.cpu_pct,
                "age_s": w.age_s,
                "warmup_s": cfg.process.warmup_s,
            },
            actions=_actions(p, inspect, cfg),
            level=Level.INFO if young else None,
            low_confidence=young,
        )
    ]


def _fds(p: _Proc, w: WatchedProcess, cfg: Config) -> list[Finding]:
    """Open files at ``fd_pct`` of the soft limit: the next accept() or open() fails with EMFILE."""
    if w.open_fds is None or not w.fd_soft_limit:
        return []
    pct = w.open_fds / w.fd_soft_limit * 100
    if pct < cfg.thresholds.fd_pct:
        return []
    return [
        finding(
            "process.fd_exhaustion",
            p.subject,
            f"{p.subject} holds {w.open_fds} open files of its limit {w.fd_soft_limit} ({pct:.0f} %)",
            value=round(pct, 1),
            threshold=cfg.thresholds.fd_pct,
            unit="% of the soft limit on open files (ulimit -n)",
            level=Level.CRITICAL if w.open_fds >= w.fd_soft_limit - 1 else None,
            evidence={
                "open_fds": w.open_fds,
                "fd_soft_limit": w.fd_soft_limit,
                "threads": w.threads,
                "matched_by": p.matched_by,
                "cmdline": p.cmdline,
            },
            actions=[
                Action(
                    "process.open_files",
                    f"see what {p.subject} holds open (sockets, files) and its limits",
                    f"ls -l /proc/{p.pid}/fd | awk '{{print $NF}}' | sort | uniq -c | sort -rn | head; "
                    f"grep 'open files' /proc/{p.pid}/limits",
                )
            ],
        )
    ]


def _throttled(p: _Proc, w: WatchedProcess, cfg: Config) -> list[Finding]:
    """Its CPU cgroup's quota ran out in ``throttled_share`` of the window's periods (≥ 5 periods)."""
    share = w.cpu_throttled_share
    if share is None or (w.cpu_periods or 0) < 5 or share < cfg.thresholds.throttled_share:
        return []
    return [
        finding(
            "process.cpu_throttled",
            p.subject,
            f"{p.subject} throttled by its cgroup's CPU quota in {share * 100:.0f} % of the window's periods "
            f"({w.cpu_throttled_s or 0:.1f} s waiting)",
            value=share,
            threshold=cfg.thresholds.throttled_share,
            unit="throttled / elapsed CFS periods, window",
            evidence={
                "periods": w.cpu_periods,
                "throttled_s": w.cpu_throttled_s,
                "cpu_pct": w.cpu_pct,
                "unit": w.unit,
                "container_id": w.container_id,
                "matched_by": p.matched_by,
            },
            actions=[
                Action(
                    "process.cpu_quota",
                    f"see {p.subject}'s CPU cgroup, its quota and throttling",
                    f"cat /proc/{p.pid}/cgroup; systemctl show -p CPUQuotaPerSecUSec {w.unit or 'UNIT'} 2>/dev/null",
                )
            ],
        )
    ]
