"""pinned deliveries, attempts in flight, acknowledgement clocks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("clock_policy", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("overdue_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_referrals_clock", ["overdue_since", "acknowledged_at", "due_by"], unique=False
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_url", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("secret", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("round_start", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.alter_column(
            "finished_at", existing_type=sa.DateTime(timezone=True), nullable=True
        )
    # deliveries waiting before this revision followed the subscription of the moment:
    # pin them to the one they would have used
    op.execute(
        "UPDATE deliveries SET "
        "webhook_url = (SELECT s.webhook_url FROM subscriptions s "
        "WHERE s.agency = deliveries.agency), "
        "secret = (SELECT s.secret FROM subscriptions s WHERE s.agency = deliveries.agency) "
        "WHERE channel = 'webhook'"
    )


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.alter_column(
            "finished_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("round_start")
        batch_op.drop_column("secret")
        batch_op.drop_column("webhook_url")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_clock")
        batch_op.drop_column("overdue_since")
        batch_op.drop_column("clock_policy")
        batch_op.drop_column("due_by")
