"""initial tables, insert-only for the service's role

Revision ID: 0001
Revises:
Create Date: 2026-12-05 06:30:00

On PostgreSQL the tables belong to whoever runs the migrations (the owner,
`RECORDS_MIGRATIONS_DATABASE_URL`); the service connects as a member of the group role
`records_writer` (`RECORDS_DATABASE_URL`), which this migration creates when missing and
grants: the log's tables SELECT and INSERT only, never UPDATE or DELETE; retention erases
through `records_erase`, a SECURITY DEFINER function that deletes only the head of one
chain and always writes its checkpoint; the platform's own outbox and inbox what the
relay and the consumer loop need. (An owner without CREATEROLE needs `records_writer`
made first: `CREATE ROLE records_writer NOLOGIN`.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLE = "records_writer"
GRANTS = {
    "record_entries": "SELECT, INSERT",
    "record_subjects": "SELECT, INSERT",
    "record_ids": "SELECT, INSERT",
    "chain_checkpoints": "SELECT",
    "partner_offsets": "SELECT, INSERT",
    "outbox": "SELECT, INSERT, UPDATE, DELETE",
    "inbox": "SELECT, INSERT, DELETE",
}


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_inbox_subject", "inbox", ["subject"])
    op.create_table(
        "outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "id"])
    op.create_table(
        "record_entries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("sub", sa.String(length=256), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(length=256), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("ids", sa.JSON(), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=True),
        sa.Column("status", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id"),
        sa.UniqueConstraint("service", "seq", name="uq_record_entries_chain"),
    )
    op.create_index("ix_record_entries_at", "record_entries", ["at", "id"])
    op.create_index("ix_record_entries_sub", "record_entries", ["sub"])
    op.create_table(
        "record_subjects",
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("subject", "entry_id"),
    )
    op.create_index("ix_record_subjects_entry_id", "record_subjects", ["entry_id"])
    op.create_table(
        "record_ids",
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "entry_id"),
    )
    op.create_index("ix_record_ids_entry_id", "record_ids", ["entry_id"])
    op.create_table(
        "chain_checkpoints",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("erased", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service", "seq", name="uq_chain_checkpoints_chain"),
    )
    op.create_table(
        "partner_offsets",
        sa.Column("group_id", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("from_offset", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("to_offset", sa.BigInteger(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition", "from_offset"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _grant()


ERASE = """
CREATE FUNCTION records_erase(p_service text, p_upto integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    last_hash text;
    gone integer;
BEGIN
    SELECT hash INTO last_hash FROM record_entries WHERE service = p_service AND seq = p_upto;
    IF last_hash IS NULL THEN
        RAISE EXCEPTION 'records_erase: no entry % of %', p_upto, p_service;
    END IF;
    DELETE FROM record_subjects WHERE entry_id IN (
        SELECT entry_id FROM record_entries WHERE service = p_service AND seq <= p_upto);
    DELETE FROM record_ids WHERE entry_id IN (
        SELECT entry_id FROM record_entries WHERE service = p_service AND seq <= p_upto);
    DELETE FROM record_entries WHERE service = p_service AND seq <= p_upto;
    GET DIAGNOSTICS gone = ROW_COUNT;
    INSERT INTO chain_checkpoints (service, seq, hash, erased, erased_at)
        VALUES (p_service, p_upto, last_hash, gone, now());
    RETURN gone;
END $$
"""


def _grant() -> None:
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') "
        f"THEN CREATE ROLE {ROLE} NOLOGIN; END IF; END $$"
    )
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    op.execute(ERASE.format(schema=f'"{schema}"'))
    op.execute("REVOKE ALL ON FUNCTION records_erase(text, integer) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION records_erase(text, integer) TO {ROLE}")
    for table, privileges in GRANTS.items():
        op.execute(f"REVOKE ALL ON {table} FROM PUBLIC")
        op.execute(f"GRANT {privileges} ON {table} TO {ROLE}")
    for sequence in ("record_entries_id_seq", "outbox_id_seq"):
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION records_erase(text, integer)")
    for table in (
        "partner_offsets",
        "chain_checkpoints",
        "record_ids",
        "record_subjects",
        "record_entries",
        "outbox",
        "inbox",
    ):
        op.drop_table(table)
