"""The ledger: reports, their content, append-only transitions, outbox, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")

POSTGRES_APPEND_ONLY = """
CREATE FUNCTION transitions_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transitions are append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER transitions_append_only_rows BEFORE UPDATE OR DELETE ON transitions
    FOR EACH ROW EXECUTE FUNCTION transitions_are_append_only();
CREATE TRIGGER transitions_append_only_truncate BEFORE TRUNCATE ON transitions
    FOR EACH STATEMENT EXECUTE FUNCTION transitions_are_append_only();
"""

SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER transitions_append_only_update BEFORE UPDATE ON transitions
    BEGIN SELECT RAISE(ABORT, 'transitions are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER transitions_append_only_delete BEFORE DELETE ON transitions
    BEGIN SELECT RAISE(ABORT, 'transitions are append-only: DELETE refused'); END""",
]


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("meldingstype", sa.String(100), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("submitted_kommunenummer", sa.String(4), nullable=False),
        sa.Column("submitted_bydelsnummer", sa.String(2)),
        sa.Column("kommunenummer", sa.String(4)),
        sa.Column("bydelsnummer", sa.String(2)),
        sa.Column("recipient", sa.String(100)),
        sa.Column("vendor", sa.String(50)),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("routed_at", UTCDateTime()),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("delivery_sha256", sa.String(64)),
        sa.Column("saksreferanse", sa.String(200)),
        sa.Column("last_sequence", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
    )
    op.create_index("ix_reports_state_updated_at", "reports", ["state", "updated_at"])
    op.create_index("ix_reports_recipient_state", "reports", ["recipient", "state"])
    op.create_index("ix_reports_client_id_received_at", "reports", ["client_id", "received_at"])

    op.create_table(
        "report_contents",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("report_id", name="pk_report_contents"),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_report_contents_report_id_reports"
        ),
    )

    op.create_table(
        "transitions",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("from_state", sa.String(32)),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("detail", sa.JSON),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("report_id", "sequence", name="pk_transitions"),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_transitions_report_id_reports"
        ),
    )

    op.create_table(
        "outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("task", sa.String(50), nullable=False),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime()),
        sa.Column("publish_attempts", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name="fk_outbox_report_id_reports"),
    )
    op.create_index("ix_outbox_published_at_id", "outbox", ["published_at", "id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "key", name="pk_idempotency_keys"),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_idempotency_keys_report_id_reports"
        ),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_APPEND_ONLY)
    elif op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_APPEND_ONLY:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER transitions_append_only_truncate ON transitions")
        op.execute("DROP TRIGGER transitions_append_only_rows ON transitions")
        op.execute("DROP FUNCTION transitions_are_append_only()")
    for table in ("idempotency_keys", "outbox", "transitions", "report_contents", "reports"):
        op.drop_table(table)
