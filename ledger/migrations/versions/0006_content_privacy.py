"""Content privacy: sealed content (its key id and wrapped data key), erasure, the key check
values, the append-only log of who read a report's content, and signed ledger checkpoints.

Content stored before this revision keeps `key_id` NULL (plain) until `relay keys rotate`
seals it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")
APPEND_ONLY_TABLES = ("content_accesses", "checkpoints")

POSTGRES_FUNCTION = """
CREATE FUNCTION rows_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$;
"""
POSTGRES_TRIGGERS = """
CREATE TRIGGER {table}_append_only_rows BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION rows_are_append_only();
CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION rows_are_append_only();
"""
SQLITE_TRIGGERS = [
    """CREATE TRIGGER {table}_append_only_update BEFORE UPDATE ON {table}
    BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER {table}_append_only_delete BEFORE DELETE ON {table}
    BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END""",
]


def upgrade() -> None:
    with op.batch_alter_table("report_contents") as batch:
        batch.add_column(sa.Column("key_id", sa.String(32)))
        batch.add_column(sa.Column("wrapped_key", sa.LargeBinary))
        batch.create_index("ix_report_contents_key_id", ["key_id"])
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("content_erased_at", UTCDateTime()))
    op.create_table(
        "content_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("check_value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_content_keys"),
    )
    op.create_table(
        "content_accesses",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_content_accesses"),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_content_accesses_report_id_reports"
        ),
    )
    op.create_index("ix_content_accesses_report_id_at", "content_accesses", ["report_id", "at"])
    op.create_table(
        "checkpoints",
        sa.Column("number", BigId, autoincrement=True, nullable=False),
        sa.Column("cutoff", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(100), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_checkpoints"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for table in APPEND_ONLY_TABLES:
            op.execute(POSTGRES_TRIGGERS.format(table=table))
    elif dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for statement in SQLITE_TRIGGERS:
                op.execute(statement.format(table=table))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_append_only_rows ON {table}")
        op.execute("DROP FUNCTION rows_are_append_only()")
    for table in ("checkpoints", "content_accesses", "content_keys"):
        op.drop_table(table)
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("content_erased_at")
    with op.batch_alter_table("report_contents") as batch:
        batch.drop_index("ix_report_contents_key_id")
        batch.drop_column("wrapped_key")
        batch.drop_column("key_id")
