"""Proof of delivery: how often a report went missing, and alerts (one per report and kind).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("missing_count", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "alerts",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("recipient", sa.String(100)),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("send_attempts", sa.Integer, nullable=False),
        sa.Column("next_send_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("report_id", "kind", name="pk_alerts"),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name="fk_alerts_report_id_reports"),
    )
    op.create_index("ix_alerts_sent_at_next_send_at", "alerts", ["sent_at", "next_send_at"])


def downgrade() -> None:
    op.drop_table("alerts")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("missing_count")
