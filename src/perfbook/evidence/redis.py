"""What the redis probe hands the rules: field names are the contract.

``window`` figures are deltas between INFO at the window's start and at its end (perfbook's own
commands do not count as keyspace lookups: see probes/redis.py). Key names and SLOWLOG arguments
are truncated and e-mail addresses masked (perfbook.sanitize).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RedisMemory:
    """INFO memory at the window's end."""

    used_bytes: int  # used_memory
    peak_bytes: int  # used_memory_peak
    rss_bytes: int  # used_memory_rss
    fragmentation_ratio: float | None  # mem_fragmentation_ratio (rss / used)
    maxmemory_bytes: int  # 0 = no limit
    policy: str  # maxmemory_policy
    system_bytes: int | None  # total_system_memory (the host's, even in a container)
    used_pct: float | None  # of maxmemory, or of system memory when maxmemory is 0
    used_pct_of: str  # "maxmemory" | "system memory"


@dataclass
class RedisWindow:
    """Stats counters over the window (INFO end - INFO start); None after a reset (CONFIG RESETSTAT / restart)."""

    duration_s: float  # between the two INFO snapshots
    hits: int | None  # keyspace_hits
    misses: int | None  # keyspace_misses
    lookups: int | None  # hits + misses
    hit_rate: float | None  # hits / lookups; None without lookups
    evicted_keys: int | None  # removed to make room (maxmemory policy)
    expired_keys: int | None  # removed because their TTL ran out
    rejected_connections: int | None  # refused over maxclients
    error_replies: int | None  # total_error_replies (Redis ≥ 6.2)
    oom_errors: int | None  # errorstat_OOM: writes refused at maxmemory
    commands: int | None  # total_commands_processed (perfbook's own included)
    errors_by_type: dict[str, int] = field(default_factory=dict)  # errorstat_* deltas, e.g. {"OOM": 3}


@dataclass
class RedisLatency:
    """PING round trips sampled across the window (as redis-cli --latency, but bounded)."""

    samples: int  # PING round trips measured
    min_ms: float | None  # fastest round trip
    avg_ms: float | None  # mean round trip
    p99_ms: float | None  # nearest rank
    max_ms: float | None  # slowest round trip
    loop_lag_p99_ms: float | None = None  # how late perfbook's own event loop woke meanwhile (10 ms ticks)
    loop_lag_max_ms: float | None = None  # a PING measured across such a stall looks that much slower
    #: p99 with perfbook's own event-loop stalls during each PING taken out (triage)
    p99_net_ms: float | None = None


@dataclass
class RedisKeyspace:
    """One database of INFO keyspace."""

    db: int  # database number
    keys: int  # keys it holds
    expires: int  # keys with a TTL
    avg_ttl_ms: int  # mean TTL of the keys that have one (0: none)


@dataclass
class RedisBigKey:
    """One of the biggest sampled keys."""

    key: str  # truncated, e-mails masked
    pattern: str  # its namespace as a SCAN pattern, e.g. "session:*"
    db: int  # the database it was sampled in
    memory_bytes: int  # MEMORY USAGE
    type: str | None = None  # string | list | hash | set | zset | stream
    length: int | None = None  # STRLEN / LLEN / HLEN / SCARD / ZCARD / XLEN


@dataclass
class RedisKeyScan:
    """How much of one database the big-key scan (pipelined SCAN + MEMORY USAGE) covered."""

    db: int  # the database scanned
    keys: int | None  # DBSIZE when the scan started (None: not readable)
    scanned: int  # keys SCAN returned whose MEMORY USAGE was read
    complete: bool  # the SCAN cursor came back to 0: every key present throughout was seen
    duration_s: float  # time spent scanning this database
    coverage: float | None  # scanned / keys, 0–1 (1.0 when complete; None without DBSIZE)


@dataclass
class RedisSlowEntry:
    """One SLOWLOG entry (perfbook's own left out)."""

    id: int  # SLOWLOG entry id
    age_s: float | None  # before the end of the window (server clock)
    duration_ms: float  # execution time inside Redis
    command: str  # the command name and its first argument, truncated; other arguments only counted
    client_name: str | None = None  # CLIENT SETNAME of the caller, when set


@dataclass
class RedisEvidence:
    """Everything the redis probe saw."""

    url: str  # redacted
    version: str  # redis_version
    uptime_s: int  # since the server started
    role: str  # master | slave
    memory: RedisMemory  # at the window's end
    window: RedisWindow  # counter deltas over the window
    latency: RedisLatency  # PING round trips across the window
    connected_clients: int  # client connections, perfbook's included
    blocked_clients: int  # in BLPOP / XREAD … BLOCK
    maxclients: int | None  # the connection limit
    oom_errors_total: int  # errorstat_OOM since start / reset
    evicted_keys_total: int  # evicted_keys since start / reset
    #: INFO keyspace, one entry per database with keys
    keyspace: list[RedisKeyspace] = field(default_factory=list)
    big_keys: list[RedisBigKey] = field(default_factory=list)  # biggest first
    big_keys_sampled: int = 0  # keys MEMORY USAGE was read for (every database scanned)
    big_keys_scan_complete: bool = False  # the SCAN reached the end of every database scanned
    big_keys_scans: list[RedisKeyScan] = field(default_factory=list)  # coverage of each database scanned
    big_keys_budget_s: float | None = None  # the time the scan was allowed (within the window)
    big_keys_per_s: float | None = None  # keys scanned per second of scanning
    #: keys seen at or over thresholds.redis_big_key_mb (big_keys keeps the top 10)
    big_keys_over_limit: int = 0
    #: the newest entries not perfbook's (10 at most)
    slowlog: list[RedisSlowEntry] = field(default_factory=list)
    slowlog_len: int = 0  # entries SLOWLOG holds in all
    db: int = 0  # the database of the URL (sampled by SCAN; queue_db gets one SCAN page too)
    cache_db: int = 0  # [redis] cache_db
    queue_db: int | None = None  # [redis] queue_db
    reset_detected: bool = False  # a counter went down between the INFO snapshots
    notes: list[str] = field(default_factory=list)  # what could not be read, and why
