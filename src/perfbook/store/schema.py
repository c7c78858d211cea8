"""Every table of perfbook's store, in one SQLAlchemy metadata (the migrations create them).

The migrations under ``perfbook/store/migrations/versions`` are what creates and changes these
tables; this module is the same schema as Python objects for queries (a test checks that a
migrated store and this metadata agree). Times are ISO 8601 UTC strings (``at``) where people
read them, and Unix seconds (``*_s`` floats) in the time series that watch writes and scans.

Owners: ``fix_audit`` (fix), ``incidents``, ``timeline_events``, ``checklist_marks``,
``artifacts`` (incidents), ``messages`` (communications), ``kpi_samples``, ``kpi_aggregates``,
``watch_runs``, ``alert_states``, ``silences``, ``watch_leases`` (watch and alerts). docs/incidents.md describes
each column.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ISO = String(32)  # "2026-12-01T10:00:00Z"

fix_audit = Table(
    "fix_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", ISO, nullable=False),
    Column("os_user", String(128), nullable=False),
    Column("target", Text, nullable=False),  # redacted
    Column("action", String(64), nullable=False),
    Column("mode", String(16), nullable=False),  # plan | apply
    Column("params", JSON, nullable=False),
    Column("plan", JSON),
    # planned | nothing | refused | skipped (plans); done | partial | failed | declined | refused (applies)
    Column("outcome", String(16), nullable=False),
    Column("summary", Text),
    Column("error", Text),
    Column("before", JSON),  # figures before the apply, name -> value
    Column("after", JSON),
    Column("reason", Text),  # why the apply was made (--reason), redacted
    Column("ticket", String(128)),  # the ticket / incident link it answers (--ticket)
    Column("incident", Integer),  # the perfbook incident the apply was attached to (--incident)
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # shown as INC-<id>
    Column("title", Text, nullable=False),
    Column("status", String(16), nullable=False),  # investigating | identified | monitoring | resolved
    Column("severity", String(4)),  # P0..P3; NULL: not classified yet
    Column("impact", String(16), nullable=False),  # none | minor | major | critical
    Column("issue_types", JSON, nullable=False),  # ["database", …]
    Column("endpoints", JSON, nullable=False),  # affected endpoints, from findings
    Column("components", JSON, nullable=False),  # affected layers / tables / containers, from findings
    Column("owner", String(128), nullable=False),
    Column("opened_at", ISO, nullable=False),
    Column("resolved_at", ISO),
    Column("updated_at", ISO, nullable=False),  # any change
    Column("last_update_at", ISO, nullable=False),  # last update people were given: reminders count from it
    Column("dedup_key", String(255)),  # an outside identity (e.g. an Alertmanager groupKey)
    Index("ix_incidents_status", "status"),
    Index("ix_incidents_dedup_key", "dedup_key"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id")),  # NULL: stored without an incident
    Column("kind", String(16), nullable=False),  # triage | fix | load | capacity | watch
    Column("at", ISO, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("summary", Text, nullable=False),
    # the few figures lists and plots need, pulled out of the document (NULL: not in it)
    Column("severity", String(4)),
    Column("p95_s", Float),
    Column("p95_subject", Text),
    Column("error_rate", Float),
    Column("cpu_pct", Float),
    Column("memory_pct", Float),
    Column("db_query_mean_ms", Float),
    Column("cache_hit_rate", Float),
    Column("rps", Float),
    Column("slo_met", Boolean),
    Column("action", String(64)),  # fix: the catalog id
    Column("outcome", String(16)),  # fix: done | partial | failed | …
    Column("document", JSON, nullable=False),  # the JSON perfbook printed, whole
    Index("ix_artifacts_incident", "incident_id", "id"),
    Index("ix_artifacts_kind_at", "kind", "at"),
    Index("ix_artifacts_kind_id", "kind", "id"),  # the newest report of a kind (the Overview's banner)
)

timeline_events = Table(
    "timeline_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("at", ISO, nullable=False),
    Column("kind", String(16), nullable=False),  # opened | note | triage | severity | status | fix | load | …
    Column("actor", String(128), nullable=False),
    Column("summary", Text, nullable=False),
    Column("data", JSON, nullable=False),  # the figures that matter for this kind
    Column("artifact_id", Integer, ForeignKey("artifacts.id")),
    Index("ix_timeline_incident", "incident_id", "id"),
)

checklist_marks = Table(
    "checklist_marks",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("item", Integer, nullable=False),  # 1..20, the runbook's order
    Column("state", String(8), nullable=False),  # done | na
    Column("actor", String(128), nullable=False),
    Column("at", ISO, nullable=False),
    Column("note", Text),
    PrimaryKeyConstraint("incident_id", "item"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(255), nullable=False),  # one delivery per key, ever
    Column("incident_id", Integer, ForeignKey("incidents.id")),
    Column("event", String(32), nullable=False),  # detected | update | resolved | status | customer | alert …
    Column("audience", String(16), nullable=False),  # internal | external
    Column("channel", String(64), nullable=False),  # "email", an apprise scheme …
    Column("recipients", JSON, nullable=False),  # redacted
    Column("subject", Text),
    Column("body", Text),
    Column("outcome", String(16), nullable=False),  # pending | sent | failed; sent is final
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("created_at", ISO, nullable=False),
    Column("claimed_at", ISO, nullable=False),  # when the current attempt started (a lease)
    Column("sent_at", ISO),
    UniqueConstraint("idempotency_key", name="uq_messages_idempotency_key"),
)

kpi_samples = Table(
    "kpi_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_s", Float, nullable=False),  # Unix seconds of the run
    Column("run_id", String(64), nullable=False),
    Column("kpi", String(64), nullable=False),  # p95_s, error_rate, cpu_pct … (the report's KPI names)
    Column("subject", Text, nullable=False),  # "" for the whole stack, else endpoint / container …
    Column("value", Float),  # NULL: not measured this run
    Column("count", Integer),  # requests / lookups the value is computed over
    Index("ix_kpi_samples_kpi_at", "kpi", "at_s"),
    Index("ix_kpi_samples_at", "at_s"),
)

kpi_aggregates = Table(
    "kpi_aggregates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bucket_start_s", Float, nullable=False),
    Column("bucket_s", Integer, nullable=False),  # 300 for 5-minute aggregates
    Column("kpi", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("samples", Integer, nullable=False),
    Column("min", Float),
    Column("max", Float),
    Column("mean", Float),
    Column("last", Float),
    UniqueConstraint("kpi", "subject", "bucket_s", "bucket_start_s", name="uq_kpi_aggregates_bucket"),
)

watch_runs = Table(
    "watch_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("started_at_s", Float, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("severity", String(4)),
    Column("findings", JSON, nullable=False),  # [{code, subject, level, value}]
    Column("probes", JSON, nullable=False),  # name -> status
    UniqueConstraint("run_id", name="uq_watch_runs_run_id"),
    Index("ix_watch_runs_started", "started_at_s"),
)

alert_states = Table(
    "alert_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(128), nullable=False),
    Column("subject", Text, nullable=False),  # "" when the rule has one subject
    Column("state", String(16), nullable=False),  # inactive | pending | firing | resolved
    Column("severity", String(16)),
    Column("value", Float),
    Column("threshold", Float),
    Column("active_since_s", Float),  # condition true since (pending / firing)
    Column("state_since_s", Float, nullable=False),
    Column("last_eval_s", Float, nullable=False),
    Column("last_notified_s", Float),
    Column("resolved_at_s", Float),
    Column("incident_id", Integer, ForeignKey("incidents.id")),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    UniqueConstraint("rule", "subject", name="uq_alert_states_rule_subject"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(128), nullable=False),
    Column("subject", Text),  # NULL: every subject of the rule
    Column("starts_at_s", Float, nullable=False),
    Column("ends_at_s", Float, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("comment", Text),
    Column("created_at_s", Float, nullable=False),
    Index("ix_silences_ends", "ends_at_s"),
)

watch_leases = Table(
    "watch_leases",
    metadata,
    Column("name", String(64), primary_key=True),  # "watch": one watch per store writes the alert states
    Column("holder", String(255), nullable=False),  # "pid 1234 on web-1", who to stop
    Column("token", String(64), nullable=False),  # the holder's own random id (pids repeat across hosts)
    Column("acquired_at_s", Float, nullable=False),
    Column("renewed_at_s", Float, nullable=False),
    Column("expires_at_s", Float, nullable=False),  # renewed each run; past it, another watch may take over
)

APPEND_ONLY = ("fix_audit", "timeline_events", "artifacts")
"""Tables whose rows are never updated or deleted (a trigger refuses it on SQLite and PostgreSQL)."""
