"""policy trials (their progress and changes) and the applied policies

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("seq", BigId, autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("applied_at", When, nullable=False),
        sa.Column("applied_by", sa.String(length=256), nullable=False),
        sa.Column("trial_id", sa.String(length=36), nullable=True),
        sa.Column("redecide_since", When, nullable=False),
        sa.Column("redecide_status", sa.String(length=16), nullable=False),
        sa.Column("redecided_at", When, nullable=True),
        sa.Column("redecided_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("version"),
    )
    op.create_table(
        "policy_trials",
        sa.Column("trial_id", sa.String(length=36), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("cursor_at", When, nullable=True),
        sa.Column("cursor_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("trial_id"),
    )
    op.create_index("ix_policy_trials_status", "policy_trials", ["status"])
    op.create_table(
        "policy_trial_changes",
        sa.Column("trial_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("reported_at", When, nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("trial_id", "seq"),
    )
    # the trial reads incidents in triage's order (reported_at, seq)
    op.create_index("ix_incident_history_reported", "incident_history", ["reported_at", "seq"])


def downgrade() -> None:
    op.drop_index("ix_incident_history_reported", table_name="incident_history")
    op.drop_table("policy_trial_changes")
    op.drop_index("ix_policy_trials_status", table_name="policy_trials")
    op.drop_table("policy_trials")
    op.drop_table("policies")
