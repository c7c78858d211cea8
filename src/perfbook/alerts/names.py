"""The built-in alert rules' names, in the order ``perfbook alerts rules`` lists them. Pure, no imports.

Kept apart from :mod:`perfbook.alerts.defaults` so the config's checks can read them without the
rules that read the config.
"""

# The runbook's names (its "Performance Alerts" block) come first; never rename them.
RUNBOOK_NAMES = ("HighResponseTime", "HighErrorRate", "HighCPUUsage", "HighMemoryUsage")
DEFAULT_NAMES = RUNBOOK_NAMES + (
    "HighDiskUsage",
    "SlowDatabaseQueries",
    "LowCacheHitRate",
    "BackendUnreachable",
    "PostgresUnreachable",
    "RedisUnreachable",
    "PostgresBlockedQueries",
    "PostgresConnectionsSaturated",
    "PostgresDeadTuples",
    "RedisOOMRejections",
    "ContainerRestarting",
)
