"""What the pgbouncer probe hands the rules (``rules/pgbouncer.py``): field names are the contract.

Read from PgBouncer's admin console (the ``pgbouncer`` virtual database): ``SHOW POOLS`` sampled
across the window, ``SHOW STATS``, ``SHOW CLIENTS``, ``SHOW CONFIG`` and ``SHOW DATABASES`` at its
start and end. ``*_window`` figures are deltas between the two ``SHOW STATS`` reads, never
PgBouncer's lifetime totals. The admin console's own pool and perfbook's own client are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN_DATABASE = "pgbouncer"  # the admin console's virtual database: never a pool of the application
OWN_APPLICATIONS = ("perfbook", "perfbook fix")  # application_name of perfbook's own clients (SHOW CLIENTS)

# SHOW CONFIG keys that decide how many clients a pool serves and how long they may wait
CONFIG_KEYS = (
    "pool_mode",
    "default_pool_size",
    "min_pool_size",
    "reserve_pool_size",
    "reserve_pool_timeout",
    "max_client_conn",
    "max_db_connections",
    "max_user_connections",
    "query_wait_timeout",
    "server_idle_timeout",
    "ignore_startup_parameters",
    "listen_port",
)


@dataclass
class PgbPool:
    """One pool (database, user) across the window."""

    database: str  # the database clients name (a [databases] entry, or one made from `*`)
    user: str  # the user of the pool
    pool_mode: str  # session | transaction | statement
    pool_size: int | None  # server connections this pool may open (SHOW DATABASES pool_size); None: unknown
    max_db_connections: int  # the database's cap on server connections across its pools (0: none)
    reserve_pool: int  # extra server connections allowed once a client waited reserve_pool_timeout
    cl_active: int  # clients linked to a server connection (or idle in session mode), at the window's end
    cl_waiting: int  # clients waiting for a server connection, at the window's end (perfbook's own left out)
    sv_active: int  # server connections linked to a client, at the window's end
    sv_idle: int  # server connections idle and ready, at the window's end
    sv_used: int  # server connections idle for longer than server_check_delay, at the window's end
    sv_login: int  # server connections logging in, at the window's end
    #: how long the oldest waiting client has waited, at the window's end (maxwait + maxwait_us)
    maxwait_s: float
    cl_waiting_samples: list[int] = field(default_factory=list)  # cl_waiting at each sample, start to end
    sv_active_samples: list[int] = field(default_factory=list)  # sv_active at each sample, start to end
    maxwait_max_s: float = 0.0  # the longest maxwait over the samples
    #: perfbook's own clients (its postgres probe) among those waiting at the end, left out of cl_waiting
    own_waiting: int = 0

    @property
    def key(self) -> str:
        """``database/user``, the pool's name in findings."""
        return f"{self.database}/{self.user}"

    @property
    def server_cap(self) -> int | None:
        """Server connections the pool can have: its size, capped by max_db_connections (reserve aside)."""
        if self.pool_size is None:
            return None
        return min(self.pool_size, self.max_db_connections) if self.max_db_connections else self.pool_size


@dataclass
class PgbStats:
    """One database's traffic through PgBouncer in the window (SHOW STATS, end minus start)."""

    database: str  # the database clients name
    xacts_window: int  # transactions pooled in the window
    queries_window: int  # queries pooled in the window
    xact_time_s_window: float  # time spent in transactions, summed, in the window
    query_time_s_window: float  # time spent in queries, summed, in the window
    #: time clients spent waiting for a server connection, summed (waits that ended in the window)
    wait_time_s_window: float
    avg_wait_ms_window: float | None = None  # wait_time_s_window per transaction; None without transactions
    avg_query_ms_window: float | None = None  # query_time_s_window per query; None without queries


@dataclass
class PgbouncerEvidence:
    """Everything the pgbouncer probe saw of ``[pgbouncer] dsn``."""

    dsn: str  # the admin console, redacted
    version: str | None  # e.g. "PgBouncer 1.18.0"
    window_s: float  # between the first and the last read
    samples: int  # SHOW POOLS reads across the window
    pools: list[PgbPool] = field(default_factory=list)  # the application's pools, most waiting clients first
    stats: list[PgbStats] = field(default_factory=list)  # per database, most transactions first
    config: dict[str, str] = field(default_factory=dict)  # SHOW CONFIG at the window's end (CONFIG_KEYS)
    #: key -> [start, end] when changed in the window
    config_changed: dict[str, list[str]] = field(default_factory=dict)
    #: SHOW CLIENTS at the end (active, waiting …)
    clients_by_state: dict[str, int] = field(default_factory=dict)
    clients_total: int = 0  # client connections at the end, perfbook's admin connection left out
    longest_client_wait_s: float | None = None  # the longest current wait in SHOW CLIENTS (state waiting)
    reset_detected: bool = False  # a SHOW STATS total went down in the window (PgBouncer restarted)
    notes: list[str] = field(default_factory=list)  # what could not be read, and why
