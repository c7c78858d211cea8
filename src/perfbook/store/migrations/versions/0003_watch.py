"""KPI samples and aggregates, watch runs, alert states and silences (written by perfbook watch).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_samples",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at_s", sa.Float, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("kpi", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("count", sa.Integer),
    )
    op.create_index("ix_kpi_samples_kpi_at", "kpi_samples", ["kpi", "at_s"])
    op.create_index("ix_kpi_samples_at", "kpi_samples", ["at_s"])
    op.create_table(
        "kpi_aggregates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bucket_start_s", sa.Float, nullable=False),
        sa.Column("bucket_s", sa.Integer, nullable=False),
        sa.Column("kpi", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("min", sa.Float),
        sa.Column("max", sa.Float),
        sa.Column("mean", sa.Float),
        sa.Column("last", sa.Float),
        sa.UniqueConstraint("kpi", "subject", "bucket_s", "bucket_start_s", name="uq_kpi_aggregates_bucket"),
    )
    op.create_table(
        "watch_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("started_at_s", sa.Float, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("severity", sa.String(4)),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("probes", sa.JSON, nullable=False),
        sa.UniqueConstraint("run_id", name="uq_watch_runs_run_id"),
    )
    op.create_index("ix_watch_runs_started", "watch_runs", ["started_at_s"])
    op.create_table(
        "alert_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16)),
        sa.Column("value", sa.Float),
        sa.Column("threshold", sa.Float),
        sa.Column("active_since_s", sa.Float),
        sa.Column("state_since_s", sa.Float, nullable=False),
        sa.Column("last_eval_s", sa.Float, nullable=False),
        sa.Column("last_notified_s", sa.Float),
        sa.Column("resolved_at_s", sa.Float),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id")),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.UniqueConstraint("rule", "subject", name="uq_alert_states_rule_subject"),
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("starts_at_s", sa.Float, nullable=False),
        sa.Column("ends_at_s", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("created_at_s", sa.Float, nullable=False),
    )
    op.create_index("ix_silences_ends", "silences", ["ends_at_s"])


def downgrade() -> None:
    raise NotImplementedError("perfbook's store is never downgraded: restore a backup instead")
