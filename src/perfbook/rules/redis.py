"""Redis rules: redis evidence -> findings (perfbook.codes) and the cache-hit-rate KPI. Pure.

Window figures only (hit rate, evictions, OOM refusals): lifetime counters hide a current problem
and keep showing a past one. The eviction-policy advice is in :mod:`perfbook.rules.redis_advice`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from perfbook.codes import finding
from perfbook.config import Config
from perfbook.evidence import usable
from perfbook.evidence.redis import RedisEvidence
from perfbook.model import Action, Evidence, Finding, Level, UnreliableFigure
from perfbook.redact import redact_url
from perfbook.rules.redis_advice import (
    big_key_actions,
    budget_action,
    flush_action,
    maxmemory_action,
    policy_action,
    policy_advice,
    redis_cli,
    scan_offpeak_action,
)
from perfbook.units import format_bytes, format_duration

MIN_LOOKUPS = 100  # a window hit rate needs at least this many lookups
MIN_LOOKUPS_SHOWN = 20  # fewer still: reported with its count, low-confidence (as a 5xx share is)
MIN_PING_SAMPLES = 5
FRAGMENTATION_MIN_BYTES = 100 * 2**20  # ratios of small instances are noise


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Every Redis finding for this triage."""
    ev = evidence.get("redis")
    if ev is None:
        return []
    if ev.status == "unavailable":
        target = redact_url(cfg.redis.url) or "redis"
        return [
            finding(
                "redis.unreachable",
                target,
                f"Redis unreachable: {ev.reason}",
                evidence={"reason": ev.reason},
                actions=[Action("redis.check", "check the server and the URL", manual=redis_cli("PING"))],
            )
        ]
    data = usable(ev, RedisEvidence)
    if data is None:
        return []
    th = cfg.thresholds
    return [
        *_hit_rate(data, th.cache_hit_rate),
        *_oom(data),
        *_memory(data, th.redis_memory_pct),
        *_evictions(data),
        *_latency(data, th.redis_latency_ms),
        *_fragmentation(data, th.redis_fragmentation),
        *_big_keys(data, th.redis_big_key_mb),
        *_slowlog(data),
    ]


def kpis(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> dict[str, Any]:
    """``cache_hit_rate`` over the window with its ``cache_lookups`` (judged only from MIN_LOOKUPS); else None."""
    ev = evidence.get("redis")
    data = usable(ev, RedisEvidence)
    if data is None or not data.window.lookups:
        return {"cache_hit_rate": None}
    return {"cache_hit_rate": data.window.hit_rate, "cache_lookups": data.window.lookups}


def _subject(data: RedisEvidence) -> str:
    return data.url


def _hit_rate(data: RedisEvidence, limit: float) -> list[Finding]:
    w = data.window
    if w.lookups is None or w.lookups < MIN_LOOKUPS_SHOWN or w.hit_rate is None or w.hit_rate >= limit:
        return []
    few = w.lookups < MIN_LOOKUPS
    causes = []
    if w.evicted_keys:
        causes.append(f"{w.evicted_keys} keys evicted in the window: the cache is too small")
    if w.expired_keys:
        causes.append(f"{w.expired_keys} keys expired in the window: TTLs may be too short")
    if not causes:
        causes.append(
            "misses without evictions: keys are read before they are written (cold cache, or the app "
            "does not set a key after a miss), or key names differ between writer and reader"
        )
    return [
        finding(
            "redis.hit_rate_low",
            _subject(data),
            f"cache hit rate {w.hit_rate * 100:.1f} % over the window ({w.misses} misses of {w.lookups} lookups"
            + (f", under the {MIN_LOOKUPS} a firm figure needs)" if few else ")"),
            value=w.hit_rate,
            threshold=limit,
            unit="hits / lookups, window",
            low_confidence=few,
            evidence={
                "hits": w.hits,
                "misses": w.misses,
                "lookups": w.lookups,
                "evicted_keys": w.evicted_keys,
                "expired_keys": w.expired_keys,
                "window_s": w.duration_s,
                "likely": causes,
            },
            actions=[
                Action(
                    "redis.check_misses",
                    "see which keys miss",
                    manual=redis_cli("INFO stats") + "  # and the app's cache-aside code",
                )
            ],
        )
    ]


def _oom(data: RedisEvidence) -> list[Finding]:
    oom = data.window.oom_errors
    if not oom:
        return []
    mem = data.memory
    actions = [a for a in (policy_action(data), maxmemory_action(data), flush_action(data)) if a]
    return [
        finding(
            "redis.oom_rejections",
            _subject(data),
            f"{oom} write(s) refused with OOM in the window: used {format_bytes(mem.used_bytes)} of maxmemory "
            f"{format_bytes(mem.maxmemory_bytes)}, policy {mem.policy}",
            value=float(oom),
            threshold=0.0,
            unit="OOM error replies, window",
            evidence={
                "oom_errors": oom,
                "oom_errors_total": data.oom_errors_total,
                "used_bytes": mem.used_bytes,
                "maxmemory_bytes": mem.maxmemory_bytes,
                "policy": mem.policy,
                "policy_advice": policy_advice(data).reason,
            },
            actions=actions,
        )
    ]


def _memory(data: RedisEvidence, limit_pct: float) -> list[Finding]:
    mem = data.memory
    if mem.used_pct is None or mem.used_pct < limit_pct:
        return []
    full = mem.maxmemory_bytes and mem.used_bytes >= mem.maxmemory_bytes
    failing = full and mem.policy == "noeviction"
    advice = policy_advice(data)
    if failing:
        title = (
            f"Redis is at maxmemory ({format_bytes(mem.used_bytes)} of {format_bytes(mem.maxmemory_bytes)}) "
            "with noeviction: every write fails with OOM"
        )
    else:
        title = f"Redis memory {mem.used_pct:.0f} % of {mem.used_pct_of} ({format_bytes(mem.used_bytes)})"
        if mem.policy == "noeviction" and mem.maxmemory_bytes:
            title += ": at maxmemory, noeviction will refuse writes"
    actions = [a for a in (policy_action(data), maxmemory_action(data)) if a]
    if failing and (f := flush_action(data)):
        actions.append(f)
    if not mem.maxmemory_bytes:
        actions.append(
            Action(
                "redis.set_maxmemory",
                "set a maxmemory below what the host can give",
                manual=redis_cli("CONFIG SET maxmemory", "<bytes>"),
            )
        )
    return [
        finding(
            "redis.memory_high",
            _subject(data),
            title,
            value=mem.used_pct,
            threshold=limit_pct,
            unit=f"% of {mem.used_pct_of}",
            level=Level.CRITICAL if failing else None,
            evidence={
                "used_bytes": mem.used_bytes,
                "peak_bytes": mem.peak_bytes,
                "rss_bytes": mem.rss_bytes,
                "maxmemory_bytes": mem.maxmemory_bytes,
                "policy": mem.policy,
                "policy_advice": advice.reason,
                "oom_errors_total": data.oom_errors_total,
                "keyspace": {f"db{k.db}": {"keys": k.keys, "expires": k.expires} for k in data.keyspace},
            },
            actions=actions,
        )
    ]


def _evictions(data: RedisEvidence) -> list[Finding]:
    evicted = data.window.evicted_keys
    if not evicted:
        return []
    actions = [a for a in (maxmemory_action(data), policy_action(data)) if a]
    return [
        finding(
            "redis.evictions",
            _subject(data),
            f"{evicted} key(s) evicted in the window (policy {data.memory.policy})",
            value=float(evicted),
            threshold=0.0,
            unit="keys evicted, window",
            evidence={
                "evicted_keys": evicted,
                "evicted_keys_total": data.evicted_keys_total,
                "used_bytes": data.memory.used_bytes,
                "maxmemory_bytes": data.memory.maxmemory_bytes,
                "policy_advice": policy_advice(data).reason,
            },
            actions=actions,
        )
    ]


def unreliable(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[UnreliableFigure]:
    """A PING p99 over the limit only because perfbook's own event loop stalled during the PINGs."""
    data = usable(evidence.get("redis"), RedisEvidence)
    if data is None or not _lag_explains(data, cfg.thresholds.redis_latency_ms):
        return []
    lat = data.latency
    assert lat.p99_ms is not None and lat.p99_net_ms is not None
    return [
        UnreliableFigure(
            code="redis.latency_high",
            subject=_subject(data),
            figure="PING p99",
            value=lat.p99_ms,
            net=lat.p99_net_ms,
            limit=cfg.thresholds.redis_latency_ms,
            unit="ms",
        )
    ]


def _lag_explains(data: RedisEvidence, limit_ms: float) -> bool:
    """Over the limit as measured, within it once perfbook's own stalls are taken out of each PING."""
    lat = data.latency
    return (
        lat.samples >= MIN_PING_SAMPLES
        and lat.p99_ms is not None
        and lat.p99_ms > limit_ms
        and lat.p99_net_ms is not None
        and lat.p99_net_ms <= limit_ms
    )


def _latency(data: RedisEvidence, limit_ms: float) -> list[Finding]:
    lat = data.latency
    if lat.samples < MIN_PING_SAMPLES or lat.p99_ms is None or lat.p99_ms <= limit_ms:
        return []
    if _lag_explains(data, limit_ms):  # perfbook's latency, not Redis's: the report's loop_lag says so
        return []
    # perfbook's own stalls (other probes on its event loop, a busy machine) could explain the excess
    ours = lat.loop_lag_max_ms is not None and lat.p99_ms - lat.loop_lag_max_ms <= limit_ms
    title = f"PING p99 {lat.p99_ms:.1f} ms over {lat.samples} round trips"
    if ours:
        title += f" (perfbook's own event loop stalled up to {lat.loop_lag_max_ms:.0f} ms meanwhile)"
    return [
        finding(
            "redis.latency_high",
            _subject(data),
            title,
            low_confidence=ours,
            value=lat.p99_ms,
            threshold=limit_ms,
            unit="ms, PING p99",
            evidence={
                "latency": vars(lat).copy(),
                "slowlog": [vars(s).copy() for s in data.slowlog[:5]],
                "blocked_clients": data.blocked_clients,
            },
            actions=[
                Action("redis.latency_doctor", "ask Redis what blocks it", manual=redis_cli("LATENCY DOCTOR"))
            ],
        )
    ]


def _fragmentation(data: RedisEvidence, limit: float) -> list[Finding]:
    mem = data.memory
    if (
        mem.fragmentation_ratio is None
        or mem.used_bytes < FRAGMENTATION_MIN_BYTES
        or mem.fragmentation_ratio <= limit
    ):
        return []
    return [
        finding(
            "redis.fragmentation_high",
            _subject(data),
            f"fragmentation ratio {mem.fragmentation_ratio:.2f} "
            f"(RSS {format_bytes(mem.rss_bytes)} for {format_bytes(mem.used_bytes)} used)",
            value=mem.fragmentation_ratio,
            threshold=limit,
            unit="rss / used",
            evidence={"rss_bytes": mem.rss_bytes, "used_bytes": mem.used_bytes},
            actions=[
                Action(
                    "redis.defrag",
                    "let Redis defragment in the background",
                    manual=redis_cli("CONFIG SET activedefrag yes"),
                )
            ],
        )
    ]


def _big_keys(data: RedisEvidence, limit_mb: float) -> list[Finding]:
    """Keys over the limit, and what the scan covered: a sample is never a verdict on every key."""
    scans = data.big_keys_scans
    if not scans:
        return []
    limit_bytes = limit_mb * 2**20
    big = [k for k in data.big_keys if k.memory_bytes >= limit_bytes]
    coverage = coverage_text(data)
    facts = {
        "sampled": data.big_keys_sampled,
        "scan_complete": data.big_keys_scan_complete,
        "coverage": [vars(s).copy() for s in scans],
        "budget_s": data.big_keys_budget_s,
        "keys_per_s": data.big_keys_per_s,
    }
    if not big:
        if data.big_keys_scan_complete:
            return []  # every key was seen: none is over the limit
        return [
            finding(
                "redis.big_keys_sampled",
                f"db{scans[0].db}",
                f"big keys not judged: {coverage}; none over {limit_mb:g} MB among those read, the rest not looked at",
                value=_least_coverage(data),
                unit="share of keys scanned",
                evidence=facts,
                actions=[scan_offpeak_action(scans[0].db), budget_action()],
            )
        ]
    biggest = big[0]
    count = max(data.big_keys_over_limit, len(big))
    if data.big_keys_scan_complete:
        head = f"{count} key(s) over {limit_mb:g} MB, {coverage}"
    else:
        head = (
            f"at least {count} key(s) over {limit_mb:g} MB in a sample ({coverage}): more may be in the rest"
        )
    return [
        finding(
            "redis.big_keys",
            f"db{biggest.db}",
            f"{head}; biggest {biggest.key}: {format_bytes(biggest.memory_bytes)}, "
            f"{biggest.type} of length {biggest.length}",
            value=float(biggest.memory_bytes),
            threshold=limit_bytes,
            unit="bytes",
            evidence={"keys": [vars(k).copy() for k in big], **facts},
            actions=big_key_actions(biggest.pattern, biggest.db),
        )
    ]


def coverage_text(data: RedisEvidence) -> str:
    """What the big-key scan read, per database: ``all 150,000 keys of db 0 read (1.10 s)`` or
    ``sampled 3 % of keys of db 0 (4,500 of 150,000 within the 1.60 s budget)``."""
    parts = []
    budget = format_duration(data.big_keys_budget_s)
    for s in data.big_keys_scans:
        if s.complete:
            parts.append(f"all {s.scanned:,} keys of db {s.db} read ({format_duration(s.duration_s)})")
        elif s.keys is None:
            parts.append(
                f"sampled {s.scanned:,} keys of db {s.db} (DBSIZE unknown) within the {budget} budget"
            )
        else:
            parts.append(
                f"sampled {format_share(s.coverage or 0.0)} % of keys of db {s.db} ({s.scanned:,} of "
                f"{s.keys:,} within the {budget} budget)"
            )
    return "; ".join(parts)


def format_share(share: float) -> str:
    """A coverage share as a percentage that never rounds a sample up to 100 or down to 0.

    >>> format_share(0.03), format_share(0.0042), format_share(0.99996), format_share(0.00001)
    ('3', '0.42', '99', '0.001')
    """
    pct = share * 100
    if pct >= 100:
        return "100"
    return str(min(math.floor(pct), 99)) if pct >= 1 else f"{max(pct, 0.001):.2g}"


def _least_coverage(data: RedisEvidence) -> float:
    return min((s.coverage for s in data.big_keys_scans if s.coverage is not None), default=0.0)


def _slowlog(data: RedisEvidence) -> list[Finding]:
    if not data.slowlog:
        return []
    worst = max(data.slowlog, key=lambda s: s.duration_ms)
    return [
        finding(
            "redis.slowlog",
            _subject(data),
            f"{data.slowlog_len} command(s) in SLOWLOG, the slowest {worst.duration_ms:.0f} ms: {worst.command}",
            value=worst.duration_ms,
            unit="ms, slowest entry",
            evidence={"entries": [vars(s).copy() for s in data.slowlog], "slowlog_len": data.slowlog_len},
            actions=[Action("redis.slowlog", "read the whole slow log", manual=redis_cli("SLOWLOG GET 128"))],
        )
    ]
