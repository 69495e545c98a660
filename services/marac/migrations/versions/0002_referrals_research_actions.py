"""MARAC referrals from agencies, research, actions; cases gather referrals, may be
deferred and closed

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referrals", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("deferred", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("research_returned", sa.JSON(), server_default="[]", nullable=False)
        )
    op.create_table(
        "marac_referrals",
        sa.Column("marac_referral_id", sa.String(length=36), nullable=False),
        sa.Column("referring_agency", sa.String(length=32), nullable=False),
        sa.Column("referral_ref", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("victim_ref", sa.String(length=64), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"]),
        sa.PrimaryKeyConstraint("marac_referral_id"),
        sa.UniqueConstraint("referring_agency", "referral_ref", name="uq_marac_referral_ref"),
    )
    op.create_index("ix_marac_referrals_case_id", "marac_referrals", ["case_id"])
    op.create_index("ix_marac_referrals_victim_ref", "marac_referrals", ["victim_ref"])
    op.create_table(
        "research",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("known", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.String(length=8000), nullable=True),
        sa.Column("risks", sa.String(length=8000), nullable=True),
        sa.Column("completed_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=256), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"]),
        sa.PrimaryKeyConstraint("case_id", "agency", "version"),
    )
    op.create_table(
        "actions",
        sa.Column("action_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=False),
        sa.Column("due_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("agreed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=4000), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'done')", name="ck_action_status"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"]),
        sa.PrimaryKeyConstraint("action_id"),
    )
    op.create_index("ix_actions_case_id", "actions", ["case_id"])
    op.create_index("ix_actions_area", "actions", ["area"])
    op.create_index("ix_actions_agency", "actions", ["agency"])


def downgrade() -> None:
    op.drop_table("actions")
    op.drop_table("research")
    op.drop_table("marac_referrals")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("research_returned")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("deferred")
        batch_op.drop_column("referrals")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("outcome_at")
