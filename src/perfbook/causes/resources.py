"""Join family: latency ↔ CPU and memory of the backend's own processes vs. another process on
the host (``process.cpu_hog``, ``process.memory_growth``, ``host.cpu_high``, ``host.swap_used``,
``host.memory_high``) and of containers (``container.*``). Pure.

A process the config names (``[process] match`` / ``pids``, or a worker of one) is the backend:
its CPU or growth explains the backend's own slowness. Another process only competes for the
host, so it gets less confidence and the summary says "another process".
"""

from __future__ import annotations

import re
from typing import Any

from perfbook.causes.context import Context, Symptom, symptom_lead
from perfbook.causes.links import linked_symptom
from perfbook.causes.score import SYMPTOM_MATCHED, Score, first_action, make_cause
from perfbook.model import Cause, Finding, Level

OTHER_PROCESS = 0.2  # what a finding about a process perfbook was not told to watch is worth
HOST_ONLY = 0.2  # a busy host with no process to blame


def resource_causes(ctx: Context) -> list[Cause]:
    """Causes for CPU, memory and swap on this host, and for troubled containers."""
    hogs = ctx.of("process.cpu_hog")
    if ctx.of("host.cpu_high"):  # a hog outside the stack is info alone; on a busy host it may be why
        hogs += [f for f in ctx.by_code.get("process.cpu_hog", []) if f.level is Level.INFO]
    causes = [_cpu_hog(ctx, f) for f in hogs]
    if not causes and ctx.of("host.cpu_high"):
        causes.append(_host_only(ctx, ctx.of("host.cpu_high")[0], "the host's CPU is busy"))
    growth = [_memory_growth(ctx, f) for f in ctx.of("process.memory_growth")]
    causes += growth
    if not growth:
        for code, what in (
            ("host.swap_used", "the host is swapping"),
            ("host.memory_high", "the host is short of memory"),
        ):
            if ctx.of(code):
                causes.append(_host_only(ctx, ctx.of(code)[0], what))
                break
    causes += [
        _container(ctx, f)
        for f in ctx.of("container.restarting", "container.memory_high", "container.cpu_high")
    ]
    return causes


def backend_process(ctx: Context, f: Finding) -> tuple[bool | None, str]:
    """(is it one of the backend's configured processes?, how it matched). None: cannot tell."""
    ev = f.evidence
    if ev.get("matched_by"):
        return True, str(ev["matched_by"])
    if ev.get("matched") is not None:
        return bool(ev["matched"]), "configured" if ev["matched"] else ""
    pid = ev.get("pid") or _pid(f.subject)
    proc = ctx.process()
    watched = {p.pid: p.matched_by for p in (proc.processes if proc is not None else [])}
    if pid in watched:
        return True, str(watched[pid])
    return (False if watched else None), ""


def _pid(subject: str) -> int | None:
    m = re.search(r"\[(\d+)\]$", subject)
    return int(m.group(1)) if m else None


def _symptom(
    ctx: Context, score: Score, backend: bool | None, why: str, host_busy: str = ""
) -> Symptom | None:
    """The endpoint in trouble this process explains: through the same component (the backend's own
    process serves it), or, for another process, only while the host it shares is short of the
    resource (``host_busy`` says how); else none."""
    if backend:
        return linked_symptom(ctx, score, f"served by this process; {why}", SYMPTOM_MATCHED)
    if host_busy:
        return linked_symptom(ctx, score, f"not served by it, but {host_busy}; {why}")
    return None


def _cpu_hog(ctx: Context, f: Finding) -> Cause:
    backend, how = backend_process(ctx, f)
    score, cpu = Score(), f"{f.value:.0f} % of a core" if isinstance(f.value, (int, float)) else "a core"
    if backend is False:
        score.add(OTHER_PROCESS, f"another process, {f.subject}, used {cpu} across the window [{f.code}]")
    else:
        score.finding(f, f"{f.subject} used {cpu} across the window")
    if backend:
        score.add(0.15, f"it is the backend's own process (matched by {how})")
    host = ctx.of("host.cpu_high")
    if host:
        score.add(0.05, f"the host's CPU is {host[0].value or 0:.0f} % busy")
    busy = "the host's CPU is saturated in the same window" if host else ""
    sym = _symptom(ctx, score, backend, "CPU time it takes is time requests wait", busy)
    if backend:
        what = f"the backend process {f.subject} is busy on the CPU ({cpu} across the window)"
        fix = "profile it (py-spy top --pid PID) or restart it"
    elif backend is False:
        what = f"another process on the host, {f.subject}, takes {cpu} across the window"
        fix = "see what it is and move it off the backend's host or limit it"
    else:
        what = f"process {f.subject} takes {cpu} across the window"
        fix = "see what it is (ps) and profile or restart it"
    pid = _pid(f.subject)
    summary = f"{symptom_lead(sym)}{what}; fix: {fix.replace('PID', str(pid) if pid else 'PID')}"
    evidence = {
        "process": f.subject,
        "backend": backend,
        "matched_by": how or None,
        "cpu_pct": f.value,
        "endpoints": [sym.endpoint] if sym and backend else [],
    }
    return make_cause(
        summary,
        score,
        [f, *host, *(sym.findings if sym else [])],
        "process",
        evidence,
        first_action([f, *host]),
    )


def _memory_growth(ctx: Context, f: Finding) -> Cause:
    backend, how = backend_process(ctx, f)
    score = Score()
    slope = _slope(f)
    if backend is False:
        score.add(OTHER_PROCESS, f"another process, {f.subject}, grows {slope} [{f.code}]")
    else:
        score.finding(f, f"{f.subject} RSS grows {slope}")
    if backend:
        score.add(0.15, f"it is the backend's own process (matched by {how})")
    swap, memory = ctx.of("host.swap_used"), ctx.of("host.memory_high")
    if swap:
        score.add(0.1, "the host is swapping in the same window")
    if memory:
        score.add(0.05, f"host memory {memory[0].value or 0:.0f} % used")
    busy = "the host swaps in the same window" if swap else ""
    sym = _symptom(ctx, score, backend, "a growing process pushes the host toward swap", busy)
    who = (
        f"the backend process {f.subject}"
        if backend
        else (f"another process on the host, {f.subject}," if backend is False else f"process {f.subject}")
    )
    tail = " and the host swaps" if swap else ""
    summary = (
        f"{symptom_lead(sym)}{who} leaks memory: RSS grows {slope}{tail}; "
        f"fix: restart it (recycle the workers) and find the leak (tracemalloc)"
    )
    evidence = {
        "process": f.subject,
        "backend": backend,
        "slope": f.value,
        "r2": f.evidence.get("r2"),
        "rss_bytes": f.evidence.get("rss_bytes"),
        "endpoints": [sym.endpoint] if sym and backend else [],
    }
    keys = [f, *swap, *memory, *(sym.findings if sym else [])]
    return make_cause(summary, score, keys, "process", evidence, first_action([f], ("process.restart",)))


def _slope(f: Finding) -> str:
    """``25 MB/min (R² 0.98)`` from the finding's value and fit."""
    r2 = f.evidence.get("r2", f.evidence.get("r_squared"))
    value = f"{f.value:.0f} MB/min" if isinstance(f.value, (int, float)) else "steadily"
    return value + (f" (R² {r2:.2f})" if isinstance(r2, (int, float)) else "")


def _top_processes(f: Finding) -> list[dict[str, Any]]:
    """The busiest (or largest) processes a host finding names, first first."""
    for key in ("top_cpu", "top_memory"):
        top = [p for p in f.evidence.get(key) or [] if isinstance(p, dict)]
        if top:
            return top
    return []


def _host_only(ctx: Context, f: Finding, what: str) -> Cause:
    score = Score()
    score.add(HOST_ONLY, f"{f.title} [{f.code}]")
    top = _top_processes(f)
    ours = next((p for p in top if p.get("matched") and not p.get("own")), None)
    heavy = False
    if ours is not None:
        busy_pct = ours.get("cpu_pct") or 0.0
        # half of process_cpu_pct: busy enough to matter, though short of a process.cpu_hog
        heavy = f.code == "host.cpu_high" and busy_pct >= ctx.cfg.thresholds.process_cpu_pct / 2
        uses = f" ({busy_pct:.0f} % of a core)" if f.code == "host.cpu_high" else ""
        rank = "the top process" if ours is top[0] else "among the top processes"
        score.add(0.15 if heavy else 0.05, f"{rank}: the backend's own {ours.get('process')}{uses}")
    sym = linked_symptom(ctx, score, "the backend runs on this host, shared by every request")
    name = top[0].get("process") if top else None
    if ours is not None and ours is top[0]:
        who = f" (top: the backend's {name})"
    else:
        who = (f" (top: another process, {name}" if name else "") + (
            f"; the backend's {ours.get('process')} among them)" if ours is not None else ")" if name else ""
        )
    act = first_action([f])
    summary = f"{symptom_lead(sym)}{what}{who}: {f.title}" + (f"; fix: {act.summary}" if act else "")
    evidence: dict[str, Any] = {
        "finding": f.key,
        "top_process": top[0] if top else None,
        "backend_process": ours,
        "endpoints": [],
    }
    layer = "process" if heavy or (ours is not None and ours is top[0]) else "host"
    return make_cause(summary, score, [f, *(sym.findings if sym else [])], layer, evidence, act)


def _container(ctx: Context, f: Finding) -> Cause:
    score = Score()
    score.finding(f, f.title)
    restarting = f.code == "container.restarting"
    sym = next((s for s in ctx.suffering() if restarting and s.errors is not None), None)
    if sym is not None:
        score.add(0.2, f"{sym.label} answers 5xx in the same window (a restarting container drops requests)")
    act = first_action([f])
    summary = f"{symptom_lead(sym)}container {f.subject}: {f.title}" + (
        f"; fix: {act.summary}" if act else ""
    )
    evidence = {
        "container": f.subject,
        "finding": f.evidence,
        "endpoints": [sym.endpoint] if sym is not None and restarting and sym.errors is not None else [],
    }
    return make_cause(summary, score, [f, *(sym.findings if sym else [])], "containers", evidence, act)
