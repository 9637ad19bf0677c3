"""Which routes table each process has in force: the SHA-256 of its routes file's bytes and
when it started using it, on its heartbeat rows (`relay routes status`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("heartbeats") as batch:
        batch.add_column(sa.Column("routes_sha256", sa.String(64)))
        batch.add_column(sa.Column("routes_loaded_at", UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("heartbeats") as batch:
        batch.drop_column("routes_loaded_at")
        batch.drop_column("routes_sha256")
