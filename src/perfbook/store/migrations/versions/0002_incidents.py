"""Incidents, their timeline, checklist marks, attached artifacts and sent messages.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from perfbook.store.triggers import append_only_ddl, message_guard_ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ISO = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(4)),
        sa.Column("impact", sa.String(16), nullable=False),
        sa.Column("issue_types", sa.JSON, nullable=False),
        sa.Column("endpoints", sa.JSON, nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("opened_at", ISO, nullable=False),
        sa.Column("resolved_at", ISO),
        sa.Column("updated_at", ISO, nullable=False),
        sa.Column("last_update_at", ISO, nullable=False),
        sa.Column("dedup_key", sa.String(255)),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_dedup_key", "incidents", ["dedup_key"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", ISO, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("severity", sa.String(4)),
        sa.Column("p95_s", sa.Float),
        sa.Column("p95_subject", sa.Text),
        sa.Column("error_rate", sa.Float),
        sa.Column("cpu_pct", sa.Float),
        sa.Column("memory_pct", sa.Float),
        sa.Column("db_query_mean_ms", sa.Float),
        sa.Column("cache_hit_rate", sa.Float),
        sa.Column("rps", sa.Float),
        sa.Column("slo_met", sa.Boolean),
        sa.Column("action", sa.String(64)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("document", sa.JSON, nullable=False),
    )
    op.create_index("ix_artifacts_incident", "artifacts", ["incident_id", "id"])
    op.create_index("ix_artifacts_kind_at", "artifacts", ["kind", "at"])
    op.create_table(
        "timeline_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("at", ISO, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("artifact_id", sa.Integer, sa.ForeignKey("artifacts.id")),
    )
    op.create_index("ix_timeline_incident", "timeline_events", ["incident_id", "id"])
    op.create_table(
        "checklist_marks",
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("item", sa.Integer, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", ISO, nullable=False),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("incident_id", "item"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id")),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("body", sa.Text),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", ISO, nullable=False),
        sa.Column("claimed_at", ISO, nullable=False),
        sa.Column("sent_at", ISO),
        sa.UniqueConstraint("idempotency_key", name="uq_messages_idempotency_key"),
    )
    dialect = op.get_bind().dialect.name
    for table in ("timeline_events", "artifacts"):
        for statement in append_only_ddl(dialect, table):
            op.execute(statement)
    for statement in message_guard_ddl(dialect):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("perfbook's store is never downgraded: restore a backup instead")
