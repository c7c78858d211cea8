"""Join family: latency or errors ↔ cache collapse (``redis.hit_rate_low`` with the database's
statement rate in the same window; ``redis.oom_rejections`` with the 5xx share). Pure.

A cache that misses sends its reads to the database: the join is the window's misses per second
against the database's statements per second. A full Redis with ``noeviction`` refuses writes;
the join is the window's 5xx share. When both fire, the misses follow from the refused writes,
so they make one cause.
"""

from __future__ import annotations

from typing import Any

from perfbook.causes.context import Context, symptom_lead
from perfbook.causes.links import db_symptoms, linked_symptom, single_cause
from perfbook.causes.score import SYMPTOM_MATCHED, Score, first_action, make_cause, pct
from perfbook.model import Cause, Finding


def cache_causes(ctx: Context) -> list[Cause]:
    """Causes for a Redis that refuses writes, misses, or answers slowly."""
    oom, misses = ctx.of("redis.oom_rejections"), ctx.of("redis.hit_rate_low")
    causes = []
    if oom:
        causes.append(_oom(ctx, oom[0], misses))
    elif misses:
        causes.append(_misses(ctx, misses[0]))
    for f in ctx.of("redis.latency_high", "redis.unreachable"):
        causes.append(single_cause(ctx, f, "redis", "requests wait on the cache"))
    return causes


def _pick(ev: dict[str, Any], *keys: str) -> Any:
    return next((ev[k] for k in keys if ev.get(k) is not None), None)


def _rate_text(f: Finding) -> tuple[str, int | None, int | None]:
    """``hit rate 12 % over 480 lookups``, the lookups and the misses (None when not in evidence)."""
    ev = f.evidence
    hits, misses = (
        _pick(ev, "hits", "keyspace_hits", "hits_window"),
        _pick(ev, "misses", "keyspace_misses", "misses_window"),
    )
    lookups = _pick(ev, "lookups") or (hits + misses if hits is not None and misses is not None else None)
    rate = f"hit rate {pct(f.value)}" if isinstance(f.value, (int, float)) else "hit rate low"
    return (f"{rate} over {lookups} lookups" if lookups else rate), lookups, misses


def _database_part(ctx: Context, score: Score, misses: int | None) -> tuple[str, bool]:
    """Do the misses reach the database? Statements per second against misses per second; True
    when they co-move (the misses are matched by the database's statements)."""
    pg = ctx.postgres()
    calls = pg.statements.window_calls if pg is not None else None
    if not ctx.measured("postgres") or calls is None:
        score.add(-0.05, "postgres not measured: cannot see the misses reach the database")
        return "", False
    window_s = ctx.window_s()
    calls_per_s = calls / window_s
    misses_per_s = misses / window_s if misses else None
    moved = bool(misses_per_s and calls_per_s >= 0.5 * misses_per_s)
    if moved:
        score.add(
            0.2,
            f"the database ran {calls_per_s:.0f} statements/s in the same window against the cache's "
            f"{misses_per_s:.0f} misses/s: the misses go to the database",
        )
    elif calls:
        score.add(0.1, f"the database ran {calls_per_s:.0f} statements/s in the same window")
    return (f"; the database ran {calls_per_s:.0f} statements/s meanwhile" if calls else ""), moved


def _misses(ctx: Context, f: Finding) -> Cause:
    score = Score()
    rate, _, misses = _rate_text(f)
    score.finding(f, f"cache {rate} in the window")
    db, moved = _database_part(ctx, score, misses)
    evicted = ctx.of("redis.evictions")
    if evicted:
        score.add(0.05, "keys were evicted in the same window")
    # linked only through the database: the misses reach it, and the route reads it
    sym = linked_symptom(
        ctx, score, "it reads the database the misses go to", 0.15, among=db_symptoms(ctx) if moved else []
    )
    summary = (
        f"{symptom_lead(sym)}the cache misses: {rate}{db}, so reads go to the database; "
        f"fix: check the cache keys and TTLs (keys that change on every request never hit)"
    )
    evidence = {"hit_rate": f.value, "misses": misses, "endpoints": [sym.endpoint] if sym else []}
    return make_cause(
        summary,
        score,
        [f, *evicted, *(sym.findings if sym else [])],
        "redis",
        evidence,
        first_action([f, *evicted]),
    )


def _oom(ctx: Context, f: Finding, misses: list[Finding]) -> Cause:
    score = Score()
    refused = _pick(f.evidence, "rejections", "oom_errors", "errors", "count") or f.value
    what = (
        f"{refused:.0f} write(s) refused with OOM"
        if isinstance(refused, (int, float))
        else "writes refused with OOM"
    )
    score.finding(f, f"{what} in the window")
    memory = ctx.of("redis.memory_high")
    if memory:
        score.add(0.05, "used memory at its maxmemory")
    policy = _pick(f.evidence, "policy", "maxmemory_policy") or next(
        (_pick(m.evidence, "policy", "maxmemory_policy") for m in memory), None
    )
    if policy == "noeviction":
        score.add(0.05, "maxmemory-policy noeviction: nothing can make room")
    if misses:
        score.add(0.1, f"the hit rate fell ({_rate_text(misses[0])[0]}): refused writes never become hits")
    failing = [s for s in ctx.suffering() if s.errors is not None]
    sym = failing[0] if failing else None
    if sym is not None:
        score.add(SYMPTOM_MATCHED, f"{sym.label} answers 5xx ({pct(sym.error_share)}) in the same window")
    full = f"Redis is full and refuses writes ({what}" + (f", maxmemory-policy {policy})" if policy else ")")
    act = first_action([f, *memory], ("redis.set_policy", "redis.set_maxmemory"))
    fix = act.summary if act else "raise maxmemory or set maxmemory-policy allkeys-lru"
    summary = f"{symptom_lead(sym)}{full}; fix: {fix}"
    endpoints = [s.endpoint for s in failing] or ([sym.endpoint] if sym else [])
    evidence = {
        "refused": refused,
        "policy": policy,
        "endpoints": endpoints,
        "error_share": sym.error_share if sym else None,
    }
    keys = [f, *memory, *misses, *(x for s in failing for x in s.findings)]
    return make_cause(summary, score, keys, "redis", evidence, act)
