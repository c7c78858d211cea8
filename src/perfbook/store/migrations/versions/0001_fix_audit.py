"""The fix audit log, as perfbook 0.1.0 created it (append-only).

A store made by 0.1.0 already has this table and its triggers (and no alembic_version): the
upgrade keeps it as it is, rows included, and only records that this revision is in place.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from perfbook.store.triggers import append_only_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("fix_audit"):
        op.create_table(
            "fix_audit",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("at", sa.String(32), nullable=False),
            sa.Column("os_user", sa.String(128), nullable=False),
            sa.Column("target", sa.Text, nullable=False),
            sa.Column("action", sa.String(64), nullable=False),
            sa.Column("mode", sa.String(16), nullable=False),
            sa.Column("params", sa.JSON, nullable=False),
            sa.Column("plan", sa.JSON),
            sa.Column("outcome", sa.String(16), nullable=False),
            sa.Column("summary", sa.Text),
            sa.Column("error", sa.Text),
            sa.Column("before", sa.JSON),
            sa.Column("after", sa.JSON),
        )
    for statement in append_only_ddl(bind.dialect.name, "fix_audit"):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("perfbook's store is never downgraded: restore a backup instead")
