"""PostgreSQL wakes the outbox relay when a row is written: a statement-level trigger on the
outbox sends `NOTIFY relay_outbox`, delivered when the writing transaction commits (never
before, so a woken relay always finds the row). No extra round trip for the writer; the
relay's poll stays as the fallback. SQLite has no NOTIFY: nothing to do there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CHANNEL = "relay_outbox"  # ledger.outbox.OUTBOX_CHANNEL; a migration keeps its own copy


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION relay_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION relay_outbox_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS relay_outbox_notify()")
