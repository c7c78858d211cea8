"""The watch lease: one ``perfbook watch`` per store writes the alert states.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("acquired_at_s", sa.Float, nullable=False),
        sa.Column("renewed_at_s", sa.Float, nullable=False),
        sa.Column("expires_at_s", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("watch_leases")
