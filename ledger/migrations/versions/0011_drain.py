"""Draining a backlog: the liveness check of a recipient whose breaker is open (when it last
ran, whether the case system answered), and an index to take a recipient's waiting reports
oldest first.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import WAITING_SQL, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recipient_health") as batch:
        batch.add_column(sa.Column("checked_at", UTCDateTime()))
        batch.add_column(sa.Column("answering", sa.Boolean))
    op.create_index(
        "ix_reports_waiting",
        "reports",
        ["recipient", "received_at"],
        postgresql_where=sa.text(WAITING_SQL),
        sqlite_where=sa.text(WAITING_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_reports_waiting", table_name="reports")
    with op.batch_alter_table("recipient_health") as batch:
        batch.drop_column("answering")
        batch.drop_column("checked_at")
