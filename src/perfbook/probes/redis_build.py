"""Turn the redis probe's raw answers (two INFO dicts, PING times, samples) into evidence. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from perfbook.config import Config
from perfbook.evidence.redis import (
    RedisBigKey,
    RedisEvidence,
    RedisKeyScan,
    RedisKeyspace,
    RedisLatency,
    RedisMemory,
    RedisSlowEntry,
    RedisWindow,
)
from perfbook.redact import redact_url
from perfbook.sanitize import display_key, key_prefix

_LENGTH = {
    "string": "STRLEN",
    "list": "LLEN",
    "hash": "HLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
}
SLOW_ENTRIES_KEPT = 10
_COUNTERS = (
    "keyspace_hits",
    "keyspace_misses",
    "evicted_keys",
    "expired_keys",
    "rejected_connections",
    "total_error_replies",
    "total_commands_processed",
)


def length_command(kind: str, key: bytes) -> tuple | None:
    """The command giving a key's length for its type (None for unknown types)."""
    name = _LENGTH.get(kind)
    return (name, key) if name else None


def resp_commands(commands: list[tuple]) -> bytes:
    """Commands in the Redis protocol, for one pipelined write (redis-py's packer costs more than
    the MEMORY USAGE it packs).

    >>> resp_commands([("MEMORY", "USAGE", b"k"), ("SCAN", 0, "COUNT", 500)])
    b'*3\\r\\n$6\\r\\nMEMORY\\r\\n$5\\r\\nUSAGE\\r\\n$1\\r\\nk\\r\\n*4\\r\\n$4\\r\\nSCAN\\r\\n$1\\r\\n0\\r\\n$5\\r\\nCOUNT\\r\\n$3\\r\\n500\\r\\n'
    """
    out = []
    for command in commands:
        if len(command) == 3 and command[0] == "MEMORY" and isinstance(command[2], bytes):  # the scan's bulk
            out.append(b"*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n$%d\r\n%s\r\n" % (len(command[2]), command[2]))
            continue
        out.append(b"*%d\r\n" % len(command))
        for arg in command:
            raw = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0–100).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([5.0], 99), percentile([], 99)
    (2.0, 5.0, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def build_latency(rtts_ms: list[float], lags_ms: list[float] | None = None) -> RedisLatency:
    """min / avg / p99 / max of the PING round trips, and the event loop's own lag meanwhile."""
    lags_ms = lags_ms or []
    lag_p99 = round(percentile(lags_ms, 99) or 0.0, 3) if lags_ms else None
    lag_max = round(max(lags_ms), 3) if lags_ms else None
    if not rtts_ms:
        return RedisLatency(0, None, None, None, None, lag_p99, lag_max)
    return RedisLatency(
        samples=len(rtts_ms),
        min_ms=round(min(rtts_ms), 3),
        avg_ms=round(sum(rtts_ms) / len(rtts_ms), 3),
        p99_ms=round(percentile(rtts_ms, 99) or 0.0, 3),
        max_ms=round(max(rtts_ms), 3),
        loop_lag_p99_ms=lag_p99,
        loop_lag_max_ms=lag_max,
    )


def _errorstats(info: dict[str, Any]) -> dict[str, int]:
    return {
        k[len("errorstat_") :]: int(v.get("count", 0))
        for k, v in info.items()
        if k.startswith("errorstat_") and isinstance(v, dict)
    }


def build_window(start: dict[str, Any], end: dict[str, Any], duration_s: float) -> tuple[RedisWindow, bool]:
    """Counter deltas between the two INFO snapshots; a counter that went down is a reset (or restart)."""
    duration = round(duration_s, 3)
    deltas = {k: int(end.get(k, 0)) - int(start.get(k, 0)) for k in _COUNTERS}
    err_start, err_end = _errorstats(start), _errorstats(end)
    errors = {k: v - err_start.get(k, 0) for k, v in err_end.items()}
    restarted = int(end.get("uptime_in_seconds", 0)) < int(start.get("uptime_in_seconds", 0))
    reset = restarted or any(v < 0 for v in deltas.values()) or any(v < 0 for v in errors.values())
    if reset:
        return RedisWindow(duration, *((None,) * 10)), True
    hits, misses = deltas["keyspace_hits"], deltas["keyspace_misses"]
    lookups = hits + misses
    return RedisWindow(
        duration_s=duration,
        hits=hits,
        misses=misses,
        lookups=lookups,
        hit_rate=round(hits / lookups, 4) if lookups else None,
        evicted_keys=deltas["evicted_keys"],
        expired_keys=deltas["expired_keys"],
        rejected_connections=deltas["rejected_connections"],
        error_replies=deltas["total_error_replies"],
        oom_errors=errors.get("OOM", 0),
        commands=deltas["total_commands_processed"],
        errors_by_type={k: v for k, v in errors.items() if v},
    ), False


def build_memory(info: dict[str, Any]) -> RedisMemory:
    """INFO memory, with used memory as a share of maxmemory (or of the host's memory)."""
    used, maxmemory = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    system = int(info["total_system_memory"]) if info.get("total_system_memory") else None
    base, of = (maxmemory, "maxmemory") if maxmemory else (system, "system memory")
    frag = info.get("mem_fragmentation_ratio")
    return RedisMemory(
        used_bytes=used,
        peak_bytes=int(info.get("used_memory_peak", 0)),
        rss_bytes=int(info.get("used_memory_rss", 0)),
        fragmentation_ratio=float(frag) if frag is not None else None,
        maxmemory_bytes=maxmemory,
        policy=str(info.get("maxmemory_policy", "unknown")),
        system_bytes=system,
        used_pct=round(used / base * 100, 2) if base else None,
        used_pct_of=of,
    )


def build_keyspace(info: dict[str, Any]) -> list[RedisKeyspace]:
    """INFO keyspace: one entry per database that holds keys."""
    out = []
    for name, value in info.items():
        if name.startswith("db") and name[2:].isdigit() and isinstance(value, dict):
            out.append(
                RedisKeyspace(
                    db=int(name[2:]),
                    keys=int(value.get("keys", 0)),
                    expires=int(value.get("expires", 0)),
                    avg_ttl_ms=int(value.get("avg_ttl", 0)),
                )
            )
    return sorted(out, key=lambda k: k.db)


def build_slowlog(raw: list[Any], now_s: float | None) -> tuple[list[RedisSlowEntry], int]:
    """SLOWLOG GET entries (raw RESP: id, time, µs, args, addr, name), perfbook's own left out."""
    if not raw:
        return [], 0
    entries, total = raw
    out = []
    for entry in entries or []:
        entry_id, started, micros, args = entry[0], entry[1], entry[2], entry[3]
        name = entry[5].decode(errors="replace") if len(entry) > 5 and entry[5] else None
        if name == "perfbook":
            continue
        out.append(
            RedisSlowEntry(
                id=int(entry_id),
                age_s=round(now_s - int(started), 1) if now_s else None,
                duration_ms=round(int(micros) / 1000, 3),
                command=slow_command(args),
                client_name=name,
            )
        )
        if len(out) == SLOW_ENTRIES_KEPT:
            break
    return out, int(total) if isinstance(total, int) else len(out)


def slow_command(args: list[bytes]) -> str:
    """The command and its (truncated) key; the other arguments, which may be values, only counted.

    >>> slow_command([b"SET", b"session:ann@example.com", b"secret-token"])
    'SET session:<email> (+1 args)'
    """
    if not args:
        return ""
    text = display_key(args[0], 20).upper()
    if len(args) > 1:
        text += " " + display_key(args[1])
    return text + (f" (+{len(args) - 2} args)" if len(args) > 2 else "")


def build_big_keys(
    big: list[tuple[tuple[int, bytes], int]], details: dict[tuple[int, bytes], tuple[str, int | None]]
) -> list[RedisBigKey]:
    """The biggest sampled keys (``((db, key), bytes)``) with their type and length."""
    out = []
    for (db, key), size in big:
        kind, length = details.get((db, key), (None, None))
        raw = key.decode("utf-8", errors="replace")
        out.append(
            RedisBigKey(
                key=display_key(raw),
                pattern=display_key(key_prefix(raw)),
                db=db,
                memory_bytes=size,
                type=kind,
                length=length,
            )
        )
    return out


@dataclass(frozen=True)
class KeyScanCoverage:
    """The big-key scan as the probe ran it: per database (db, DBSIZE, keys read, cursor back to 0,
    seconds), the budget, the time spent and the keys seen over the size limit."""

    dbs: list[tuple[int, int | None, int, bool, float]]
    budget_s: float
    spent_s: float
    over_limit: int = 0


def build_key_scan(
    db: int, keys: int | None, scanned: int, complete: bool, duration_s: float
) -> RedisKeyScan:
    """One database's coverage; a count past DBSIZE (keys written meanwhile, SCAN repeats) is capped.

    >>> build_key_scan(0, 150_000, 4_500, False, 0.1).coverage, build_key_scan(0, 10, 12, True, 0.0).coverage
    (0.03, 1.0)
    """
    if complete:
        coverage: float | None = 1.0
    elif keys:
        coverage = round(min(scanned / keys, 0.9999), 4)
    else:
        coverage = None if keys is None else 1.0
    return RedisKeyScan(
        db=db,
        keys=keys,
        scanned=min(scanned, keys) if keys is not None else scanned,
        complete=complete,
        duration_s=round(duration_s, 3),
        coverage=coverage,
    )


def build_evidence(
    cfg: Config,
    start: dict,
    end: dict,
    duration_s: float,
    rtts_ms: list[float],
    big: list,
    details: dict,
    scan: KeyScanCoverage,
    slowlog: list[Any],
    db: int,
    notes: list[str],
    lags_ms: list[float] | None = None,
) -> RedisEvidence:
    """The whole RedisEvidence from the raw answers."""
    window, reset = build_window(start, end, duration_s)
    scans = [build_key_scan(*d) for d in scan.dbs]
    sampled = sum(d[2] for d in scan.dbs)
    now_s = int(end["server_time_usec"]) / 1e6 if end.get("server_time_usec") else None
    slow, slow_len = build_slowlog(slowlog, now_s)
    return RedisEvidence(
        url=redact_url(cfg.redis.url),
        version=str(end.get("redis_version", "?")),
        uptime_s=int(end.get("uptime_in_seconds", 0)),
        role=str(end.get("role", "?")),
        memory=build_memory(end),
        window=window,
        latency=build_latency(rtts_ms, lags_ms),
        connected_clients=int(end.get("connected_clients", 0)),
        blocked_clients=int(end.get("blocked_clients", 0)),
        maxclients=int(end["maxclients"]) if end.get("maxclients") else None,
        oom_errors_total=_errorstats(end).get("OOM", 0),
        evicted_keys_total=int(end.get("evicted_keys", 0)),
        keyspace=build_keyspace(end),
        big_keys=build_big_keys(big, details),
        big_keys_sampled=sampled,
        big_keys_scan_complete=bool(scans) and all(s.complete for s in scans),
        big_keys_scans=scans,
        big_keys_budget_s=round(scan.budget_s, 3) if scans else None,
        big_keys_per_s=round(sampled / scan.spent_s) if scans and scan.spent_s > 0 else None,
        big_keys_over_limit=scan.over_limit,
        slowlog=slow,
        slowlog_len=slow_len,
        db=db,
        cache_db=cfg.redis.cache_db,
        queue_db=cfg.redis.queue_db,
        reset_detected=reset,
        notes=notes,
    )
