"""An index of RECEIVED reports by municipality, oldest first: routing takes them in turns
between municipalities by skipping along it, without reading a whole burst.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import RECEIVED_SQL

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_reports_received",
        "reports",
        ["submitted_kommunenummer", "updated_at"],
        postgresql_where=sa.text(RECEIVED_SQL),
        sqlite_where=sa.text(RECEIVED_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_reports_received", table_name="reports")
