"""Heartbeats: each process's last sign of life, and each worker's last heartbeat per queue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("process_id", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("hostname", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("beat_at", UTCDateTime(), nullable=False),
        sa.Column("consumed_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("process_id", "queue", name="pk_heartbeats"),
    )
    op.create_index("ix_heartbeats_role_beat_at", "heartbeats", ["role", "beat_at"])


def downgrade() -> None:
    op.drop_table("heartbeats")
