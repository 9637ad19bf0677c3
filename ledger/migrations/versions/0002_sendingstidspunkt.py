"""reports.sendingstidspunkt: when the portal says the report was sent, as an instant (UTC).

The document keeps the portal's original string; this column is the parsed metadata
(a time without an offset is Norwegian local time, Europe/Oslo).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("sendingstidspunkt", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("sendingstidspunkt")
