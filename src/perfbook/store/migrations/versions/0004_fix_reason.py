"""fix_audit: why an apply was made, the ticket it answers and the incident it was attached to
(``fix … --apply --reason TEXT --ticket ID --incident INC-N``).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from perfbook.store.triggers import append_only_ddl

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN on both dialects: SQLite's batch mode would copy the table and lose its
    # append-only triggers
    op.add_column("fix_audit", sa.Column("reason", sa.Text))
    op.add_column("fix_audit", sa.Column("ticket", sa.String(128)))
    op.add_column("fix_audit", sa.Column("incident", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("fix_audit") as batch:  # SQLite copies the table: its triggers come back below
        batch.drop_column("incident")
        batch.drop_column("ticket")
        batch.drop_column("reason")
    if op.get_context().dialect.name == "sqlite":
        for statement in append_only_ddl("sqlite", "fix_audit"):
            op.execute(statement)
