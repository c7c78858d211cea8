"""What the postgres probe hands the rules (and the root-cause ranking): field names are the contract.

Ages are seconds at the end of the window; ``*_window`` counters are deltas between the snapshot
at the window's start and the one at its end. Query text is always safe to show (normalised by
pg_stat_statements, literals stripped again, e-mails masked, truncated: see perfbook.sanitize).
perfbook's own backend and statements, autovacuum and other non-client backends are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PgServer:
    """The server as a whole."""

    version: str  # server_version, e.g. "15.8 (Debian 15.8-0+deb12u1)"
    version_num: int  # server_version_num, e.g. 150008
    uptime_s: float  # since pg_postmaster_start_time()
    database: str  # the database perfbook connected to
    #: performance settings with their unit, e.g. "128MB"
    settings: dict[str, str] = field(default_factory=dict)
    database_sizes_bytes: dict[str, int] = field(default_factory=dict)  # per database (top 50)
    stats_reset: str | None = None  # ISO time pg_stat_database was last reset (None: never)
    stats_age_s: float | None = None  # how old this database's statistics are
    block_size: int = 8192  # bytes per page (shared_blks_* are counted in pages)


@dataclass
class PgStatement:
    """One pg_stat_statements entry (the window's delta, or lifetime totals)."""

    queryid: int  # pg_stat_statements queryid (stable for the same normalised statement)
    query: str  # safe to show
    user: str | None  # the role that ran it
    calls: int  # executions (in the window, or since reset)
    total_ms: float  # time executing, all calls
    mean_ms: float | None  # total_ms / calls
    rows: int  # rows returned or affected, all calls
    shared_blks_hit: int  # buffer cache hits
    shared_blks_read: int  # blocks read from the OS
    #: FROM / JOIN / UPDATE / INTO, schema-qualified when known
    tables: list[str] = field(default_factory=list)
    filter_columns: list[str] = field(default_factory=list)  # col = $1, lower(col) = …, col LIKE …


@dataclass
class PgStatStatements:
    """pg_stat_statements over the window and since its last reset."""

    status: str  # ok | not_installed (no CREATE EXTENSION) | not_preloaded | unreadable
    detail: str | None = None  # the server's one-line answer when not ok
    mean_column: str | None = None  # "mean_exec_time" (13+) or "mean_time" (≤ 12)
    window_calls: int = 0  # calls of every statement in the window (perfbook's own left out)
    window_total_ms: float = 0.0  # time executing all of them in the window
    window_mean_ms: float | None = None  # window_total_ms / window_calls; None without calls
    top_by_mean: list[PgStatement] = field(default_factory=list)  # window, slowest mean first
    top_by_total: list[PgStatement] = field(default_factory=list)  # window, most total time first
    lifetime_top: list[PgStatement] = field(default_factory=list)  # since reset, most total time first
    reset_detected: bool = False  # a counter went down in the window (pg_stat_statements_reset)


@dataclass
class PgTable:
    """One user table (the largest, most seq-scanned, most dead ones; not every table)."""

    name: str  # schema.table
    rows: int  # n_live_tup (pg_class.reltuples when larger: a stats reset zeroes n_live_tup)
    dead_rows: int  # n_dead_tup
    dead_ratio: float | None  # dead / (live + dead)
    seq_scan: int  # sequential scans since the statistics were reset
    seq_tup_read: int  # rows those scans read
    idx_scan: int | None  # index scans (None: the table has no index)
    seq_scan_window: int  # sequential scans during the window
    idx_scan_window: int  # index scans during the window
    seq_tup_read_window: int  # rows read by sequential scans during the window
    total_bytes: int  # heap + TOAST + indexes, from pg_class.relpages
    heap_bytes: int  # the table's own pages
    index_bytes: int  # all its indexes, from pg_class.relpages
    heap_hit_ratio: float | None  # heap blocks from the buffer cache / all heap blocks read
    mod_since_analyze: int  # rows changed since the last analyze
    last_vacuum: str | None = None  # ISO times
    last_autovacuum: str | None = None  # ISO time of the last autovacuum
    last_analyze: str | None = None  # ISO time of the last manual ANALYZE
    last_autoanalyze: str | None = None  # ISO time of the last autoanalyze
    autovacuum_enabled: bool = True  # False with reloptions autovacuum_enabled=false or autovacuum off
    columns: list[str] = field(default_factory=list)  # column names (large tables only)
    indexed_columns: list[list[str]] = field(default_factory=list)  # key columns of each valid index


@dataclass
class PgIndex:
    """One index worth a look: unused, invalid, duplicate or among the largest."""

    name: str  # schema.index
    table: str  # schema.table
    columns: list[str]  # key columns in order, "(expression)" for an expression
    size_bytes: int  # from pg_class.relpages
    scans: int  # idx_scan since the statistics were reset
    unique: bool  # UNIQUE (never "unused": it enforces a constraint)
    primary: bool  # the primary key
    valid: bool  # False after a failed CREATE INDEX CONCURRENTLY
    partial: bool = False  # a partial index (WHERE …)


@dataclass
class PgDuplicateIndexes:
    """Indexes on the same table with the same key columns, operator classes and predicate."""

    table: str  # schema.table
    columns: list[str]  # the shared key columns
    indexes: list[str]  # the first is the one to keep (unique / primary first, then most used)
    wasted_bytes: int  # size of all but the kept one


@dataclass
class PgSession:
    """A client session (perfbook's own and non-client backends left out)."""

    pid: int  # backend process id
    user: str | None  # role name
    application: str | None  # application_name
    client: str | None  # client address
    state: str | None  # active | idle | idle in transaction | …
    query: str  # the current / last statement, safe to show
    query_age_s: float | None  # since query_start
    state_age_s: float | None  # since state_change (idle in transaction: how long idle)
    xact_age_s: float | None  # since xact_start
    query_start: str | None = None  # ISO
    wait_event_type: str | None = None  # Lock, LWLock, IO, Client …
    wait_event: str | None = None  # e.g. relation, transactionid, ClientRead
    backend_type: str | None = None  # "client backend" (others never reach a finding)
    database: str | None = None  # the database it is connected to


@dataclass
class PgBlocked:
    """A session waiting on a lock, and who holds it up."""

    session: PgSession  # the waiting session (query_age_s: how long its statement has run)
    blocking_pids: list[int]  # pg_blocking_pids(pid)
    lock_type: str | None  # relation | transactionid | tuple | …
    lock_mode: str | None  # the mode it waits for, e.g. AccessExclusiveLock
    relation: str | None  # the relation it waits on (or the row's relation for row locks)
    root_pids: list[int] = field(default_factory=list)  # heads of its blocking chain (not blocked themselves)


@dataclass
class PgConnections:
    """Client connections against the usable slots."""

    total: int  # client backends, perfbook's own left out
    max_connections: int  # the server setting
    reserved: int  # superuser_reserved_connections (+ reserved_connections on 16+)
    usable: int  # max_connections - reserved
    used_pct: float  # total / usable * 100
    by_state: dict[str, int] = field(default_factory=dict)  # client sessions per state
    by_user: dict[str, int] = field(default_factory=dict)  # per role
    by_application: dict[str, int] = field(default_factory=dict)  # per application_name
    hidden: int = 0  # sessions of other roles this role may not see (no pg_monitor / pg_read_all_stats)


@dataclass
class PgCache:
    """Buffer cache hit ratio of this database: over the window and since the statistics reset."""

    hit_ratio_window: float | None  # blks_hit / (hit + read) in the window
    blocks_window: int  # hit + read in the window
    hit_ratio_lifetime: float | None  # since the statistics reset (shown, not judged)
    blocks_lifetime: int  # hit + read since the statistics reset
    per_database: dict[str, float] = field(default_factory=dict)  # lifetime ratio of each database


#: how an unreachable reason starts when PgBouncer answered
POOLER_REFUSED = "PgBouncer refused the connection"
POOLER_QUEUED = "queued in PgBouncer"  # ... when PgBouncer accepted perfbook but gave it no server connection

# What only PgBouncer answers (its src/client.c and src/objects.c), never PostgreSQL itself: a
# connection refused with one of these was refused by the pooler, not by the server behind it.
PGBOUNCER_ANSWERS: dict[str, str] = {
    "unsupported startup parameter": (
        "remove that parameter from the DSN, or add it to ignore_startup_parameters in pgbouncer.ini and RELOAD"
    ),
    "no such database": "add the database to [databases] in pgbouncer.ini (or a `*` fallback) and RELOAD",
    "pgbouncer cannot connect to server": (
        "PgBouncer is up, the PostgreSQL behind it is not reachable: check that server"
    ),
    "server login has been failing": (
        "PgBouncer cannot log in to the PostgreSQL behind it: check that server and the credentials in pgbouncer.ini"
    ),
    "no more connections allowed": "PgBouncer's max_client_conn is reached: raise it, or find the client holding them",
    "query_wait_timeout": (
        "clients waited longer than query_wait_timeout for a server connection: the pool is "
        "exhausted (see the pgbouncer probe: [pgbouncer] dsn)"
    ),
    "client_login_timeout": "PgBouncer timed out the login: the server behind it is slow or down",
    "bouncer config error": "pgbouncer.ini has an error for this database: check its log",
    '"trust" authentication failed': "the user is not in PgBouncer's auth_file",
    "not allowed": "the user is not in PgBouncer's admin_users or stats_users (its admin console)",
}


def pooler_refusal(message: str) -> str | None:
    """What to do when ``message`` (a failed connection's one-line reason) is PgBouncer's own answer;
    None when PostgreSQL (or the network) said it.

    >>> pooler_refusal("unsupported startup parameter: options")[:38]
    'remove that parameter from the DSN, or'
    >>> pooler_refusal('database "x" does not exist') is None
    True
    >>> pooler_refusal('database "pgbouncer" does not exist') is None  # PostgreSQL's words, not PgBouncer's
    True
    """
    text = message.lower()
    return next((advice for answer, advice in PGBOUNCER_ANSWERS.items() if answer in text), None)


@dataclass
class PgPooler:
    """A pooler or proxy between perfbook and PostgreSQL, how it was found, and what it changes.

    Found by the server's own answer: PostgreSQL listens on another port than perfbook connected
    to, and the same address answers for PgBouncer's ``pgbouncer`` admin database; or perfbook's
    transactions ran on different server backends (transaction pooling); or ``[pgbouncer] dsn``
    names the same address.
    """

    #: "pgbouncer" (its admin console answered), "pooler" (backends change between transactions)
    #: or "proxy" (only the port differs: a port mapping does that too)
    kind: str
    how: str  # how it was found, in words
    connected_port: int | None = None  # the port perfbook connected to
    server_port: int | None = None  # the port PostgreSQL itself listens on (current_setting('port'))
    version: str | None = None  # e.g. "PgBouncer 1.18.0" when its admin console answered SHOW VERSION
    pool_mode: str | None = None  # session | transaction | statement: from the admin console, or inferred
    #: distinct server backends perfbook's transactions ran on (> 1: transaction pooling)
    backend_pids: int = 1
    notes: list[str] = field(default_factory=list)  # what the pooler changes in what perfbook reads


@dataclass
class PostgresEvidence:
    """Everything the postgres probe saw."""

    dsn: str  # redacted
    own_pid: int  # perfbook's backend, never in a finding
    server: PgServer  # version, uptime, settings, sizes
    statements: PgStatStatements  # window and lifetime statements
    connections: PgConnections | None = None  # None when pg_settings could not be read
    cache: PgCache | None = None  # None when pg_stat_database could not be read
    tables: list[PgTable] = field(default_factory=list)  # the tables worth judging, largest first
    indexes: list[PgIndex] = field(default_factory=list)  # invalid, unused, duplicate and largest indexes
    duplicate_indexes: list[PgDuplicateIndexes] = field(default_factory=list)  # most wasted bytes first
    active: list[PgSession] = field(default_factory=list)  # running statements, oldest first (top 20)
    idle_in_transaction: list[PgSession] = field(default_factory=list)  # oldest first (top 50)
    blocked: list[PgBlocked] = field(default_factory=list)  # longest wait first
    #: every session in a blocking chain that is not blocked
    blockers: list[PgSession] = field(default_factory=list)
    #: schema.table -> bytes (heap+TOAST+indexes), largest first
    top_tables_by_size: dict[str, int] = field(default_factory=dict)
    reset_detected: bool = False  # a pg_stat_* counter went down during the window
    notes: list[str] = field(default_factory=list)  # what could not be read, and why
    #: a pooler (PgBouncer) or proxy in the path; None: perfbook talked to PostgreSQL itself
    pooler: PgPooler | None = None
    #: perfbook's own safety settings as the server reports them (set per transaction with SET LOCAL)
    own_settings: dict[str, str] = field(default_factory=dict)
    settings_not_applied: list[str] = field(default_factory=list)  # those the server did not take, with why
