"""An index on artifacts (kind, id): the newest report of a kind in a few page reads, however many are stored.

The Overview asks for the newest triage or watch report on every refresh (``max(id)`` of those
kinds). Over ``(kind, at)`` that reads every entry of the kinds — 100,000 stored reports cost
about 8 ms a refresh on SQLite; over ``(kind, id)`` it is a search, a few µs.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_artifacts_kind_id", "artifacts", ["kind", "id"])


def downgrade() -> None:
    raise NotImplementedError("perfbook's store is never downgraded: restore a backup instead")
