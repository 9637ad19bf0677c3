"""Delivery control: attempt leases, receipt deadlines, the reason a report is parked, and
each recipient's health (circuit breaker, last success and failure).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("lease_until", UTCDateTime()))
        batch.add_column(sa.Column("receipt_due_at", UTCDateTime()))
        batch.add_column(sa.Column("state_reason", sa.Text))
        batch.add_column(sa.Column("state_kind", sa.String(40)))
    op.create_table(
        "recipient_health",
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("opens", sa.Integer, nullable=False),
        sa.Column("open_until", UTCDateTime()),
        sa.Column("probe_report_id", sa.String(36)),
        sa.Column("probe_started_at", UTCDateTime()),
        sa.Column("last_success_at", UTCDateTime()),
        sa.Column("last_failure_at", UTCDateTime()),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("recipient", name="pk_recipient_health"),
    )


def downgrade() -> None:
    op.drop_table("recipient_health")
    with op.batch_alter_table("reports") as batch:
        for column in ("state_kind", "state_reason", "receipt_due_at", "lease_until"):
            batch.drop_column(column)
