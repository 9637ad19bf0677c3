"""Monitoring: a partial index over the reports not yet VERIFIED nor resolved by hand, so
that the scrape-time gauges (oldest unverified, overdue) read only those, however many
verified reports the ledger keeps.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import UNFINISHED_SQL

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_reports_unfinished",
        "reports",
        ["recipient", "received_at"],
        postgresql_where=sa.text(UNFINISHED_SQL),
        sqlite_where=sa.text(UNFINISHED_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_reports_unfinished", table_name="reports")
