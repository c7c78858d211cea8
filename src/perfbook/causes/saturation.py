"""Join family: saturation and errors (USE method) ↔ what they slow. Pure.

- listen overflows on the backend's own port ↔ its slow or failing endpoints (the same component:
  every request waits in that accept queue; a dropped SYN is a 1–3 s retry for the user);
- slow or failing connects to a dependency ↔ the endpoints that wait on it (PostgreSQL: those the
  window's statements tie to the database; the backend: every endpoint);
- I/O pressure on the host ↔ slow statements that read blocks from disk, and their endpoints;
- a container throttled by its CPU quota ↔ the endpoints of the backend process running in it;
- the host's CPU saturated, or an OOM kill, ↔ every endpoint the backend on this host serves.

Without such a link the saturation finding explains nothing: its cause, when it has one, is
listed as "also seen".
"""

from __future__ import annotations

from urllib.parse import urlsplit

from perfbook.causes.context import Context, symptom_lead
from perfbook.causes.links import db_symptoms, linked_symptom
from perfbook.causes.score import SYMPTOM_MATCHED, SYMPTOM_UNMATCHED, Score, first_action, make_cause
from perfbook.model import Cause, Finding


def saturation_causes(ctx: Context) -> list[Cause]:
    """Causes for the saturation findings that a link in the evidence joins to endpoints in trouble."""
    causes = [_listen(ctx, f) for f in ctx.of("net.listen_overflows")]
    causes += [_connects(ctx, f) for f in ctx.of("net.dependency_latency")]
    causes += [c for f in ctx.of("host.disk_io_saturated")[:1] if (c := _io(ctx, f)) is not None]
    causes += [_throttled(ctx, f) for f in ctx.of("container.cpu_throttled")]
    causes += [
        _host(ctx, f, why)
        for code, why in (
            ("host.oom_kill", "a killed worker drops its requests and the rest queue behind it"),
            ("host.cpu_saturated", "runnable tasks wait for a core, requests with them"),
        )
        for f in ctx.of(code)[:1]
    ]
    return causes


def backend_port(ctx: Context) -> int | None:
    """The port of ``[http] base_url`` (None: not configured, or no port to tell)."""
    url = ctx.cfg.http.base_url
    if not url:
        return None
    try:
        parts = urlsplit(url)
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None


def _listen(ctx: Context, f: Finding) -> Cause:
    port = backend_port(ctx)
    ports = [p for p in f.evidence.get("ports") or [] if isinstance(p, int)]
    score = Score()
    score.finding(f, f.title)
    # another listener's queue: nothing links it to the backend's endpoints
    if port is None or port not in ports:
        summary = f"a listen queue overflows on {f.subject}, not the backend's port: {f.title}"
        return make_cause(summary, score, [f], "network", {"endpoints": []}, first_action([f]))
    sym = linked_symptom(
        ctx, score, f"every request to the backend waits in port {port}'s accept queue", SYMPTOM_MATCHED
    )
    act = first_action([f])
    summary = (
        f"{symptom_lead(sym)}the backend's accept queue (port {port}) overflows: connects are dropped and "
        f"retried after 1–3 s; fix: more workers accepting, or a larger listen backlog"
    )
    return make_cause(
        summary,
        score,
        [f, *(sym.findings if sym else [])],
        "network",
        {"port": port, "endpoints": [sym.endpoint] if sym else []},
        act,
    )


def _connects(ctx: Context, f: Finding) -> Cause:
    """Linked to the endpoints the database serves (PostgreSQL), or to every endpoint (the backend
    itself); Redis and others link to none: the evidence does not say which endpoints use them."""
    target = f.subject
    among = db_symptoms(ctx) if target == "postgres" else None if target in ("http", "frontend") else []
    score = Score()
    score.finding(f, f.title)
    why = (
        "the endpoint's statements wait on these connects"
        if target == "postgres"
        else "every request goes through this connection"
    )
    sym = linked_symptom(ctx, score, why, SYMPTOM_MATCHED, among) if among is None or among else None
    act = first_action([f])
    summary = f"{symptom_lead(sym)}connects to {target} are slow or dropped: {f.title}"
    return make_cause(
        summary,
        score,
        [f, *(sym.findings if sym else [])],
        "network",
        {"target": target, "endpoints": [sym.endpoint] if sym else []},
        act,
    )


def _io(ctx: Context, f: Finding) -> Cause | None:
    slow = ctx.of("pg.slow_queries")
    reading = [st for st in ctx.statements() if st.shared_blks_read > 0 and (st.mean_ms or 0) > 0]
    if not slow or not reading:
        return None  # I/O pressure with no statement reading from disk: no link to the database
    score = Score()
    score.finding(f, f.title)
    score.add(
        0.15,
        f"{len(reading)} statement(s) of the window read blocks from disk "
        f"({sum(st.shared_blks_read for st in reading)} blocks) while the disk is saturated",
    )
    sym = linked_symptom(
        ctx, score, "its statements read from the saturated disk", SYMPTOM_MATCHED, db_symptoms(ctx) or []
    )
    act = first_action([f])
    summary = f"{symptom_lead(sym)}the disk is saturated and slow statements read from it: {f.title}"
    return make_cause(
        summary,
        score,
        [f, *slow[:1], *(sym.findings if sym else [])],
        "host",
        {"endpoints": [sym.endpoint] if sym else []},
        act,
    )


def _host(ctx: Context, f: Finding, why: str) -> Cause:
    score = Score()
    score.finding(f, f.title)
    sym = linked_symptom(ctx, score, f"the backend runs on this host: {why}", SYMPTOM_UNMATCHED)
    act = first_action([f])
    summary = f"{symptom_lead(sym)}{f.title}" + (f"; fix: {act.summary}" if act else "")
    return make_cause(summary, score, [f, *(sym.findings if sym else [])], "host", {"endpoints": []}, act)


def _throttled(ctx: Context, f: Finding) -> Cause:
    """Linked when a configured backend process runs in the throttled container (its container id)."""
    score = Score()
    score.finding(f, f.title)
    proc = ctx.process()
    ids = {p.container_id for p in (proc.processes if proc is not None else []) if p.container_id}
    container_id = str(f.evidence.get("id") or "")
    inside = (
        any(container_id.startswith(i) or i.startswith(container_id) for i in ids) if container_id else False
    )
    sym = (
        linked_symptom(
            ctx, score, "the backend's process runs in it and waits for each CPU period", SYMPTOM_MATCHED
        )
        if inside
        else None
    )
    act = first_action([f])
    summary = f"{symptom_lead(sym)}{f.title}" + (f"; fix: {act.summary}" if act else "")
    return make_cause(
        summary,
        score,
        [f, *(sym.findings if sym else [])],
        "containers",
        {"container": f.subject, "endpoints": [sym.endpoint] if sym else []},
        act,
    )
