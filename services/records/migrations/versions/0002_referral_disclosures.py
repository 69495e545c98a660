"""referral records as disclosed, for a review's chronology

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 07:15:00

Each referral record exactly as notify disclosed it on its agency's topic, and the keys
of the people it is about (contract 12, "Chronology for a review"). As the log's tables:
the service's role `records_writer` may SELECT and INSERT them only; retention deletes
through `records_erase_disclosures`, a SECURITY DEFINER function of the owner that
deletes only records disclosed before the cutoff it is given, never one in the future.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLE = "records_writer"
GRANTS = {"referral_disclosures": "SELECT, INSERT", "disclosure_subjects": "SELECT, INSERT"}


def upgrade() -> None:
    op.create_table(
        "referral_disclosures",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("referral_id"),
    )
    op.create_index(
        "ix_referral_disclosures_agency",
        "referral_disclosures",
        ["agency", "disclosed_at", "id"],
    )
    op.create_index(
        "ix_referral_disclosures_disclosed_at", "referral_disclosures", ["disclosed_at", "id"]
    )
    op.create_table(
        "disclosure_subjects",
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("subject", "referral_id"),
    )
    op.create_index(
        "ix_disclosure_subjects_referral_id", "disclosure_subjects", ["referral_id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        _grant()


ERASE = """
CREATE FUNCTION records_erase_disclosures(p_ids text[], p_before timestamptz) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    gone integer;
BEGIN
    IF p_before > now() THEN
        RAISE EXCEPTION 'records_erase_disclosures: a cutoff in the future';
    END IF;
    DELETE FROM disclosure_subjects WHERE referral_id IN (
        SELECT referral_id FROM referral_disclosures
        WHERE referral_id = ANY(p_ids) AND disclosed_at < p_before);
    DELETE FROM referral_disclosures WHERE referral_id = ANY(p_ids) AND disclosed_at < p_before;
    GET DIAGNOSTICS gone = ROW_COUNT;
    RETURN gone;
END $$
"""


def _grant() -> None:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    op.execute(ERASE.format(schema=f'"{schema}"'))
    op.execute("REVOKE ALL ON FUNCTION records_erase_disclosures(text[], timestamptz) FROM PUBLIC")
    op.execute(
        f"GRANT EXECUTE ON FUNCTION records_erase_disclosures(text[], timestamptz) TO {ROLE}"
    )
    for table, privileges in GRANTS.items():
        op.execute(f"REVOKE ALL ON {table} FROM PUBLIC")
        op.execute(f"GRANT {privileges} ON {table} TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE referral_disclosures_id_seq TO {ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION records_erase_disclosures(text[], timestamptz)")
    op.drop_table("disclosure_subjects")
    op.drop_table("referral_disclosures")
