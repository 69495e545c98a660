"""referral outcomes (notify's acknowledged, delivered, dead)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('referral_outcomes',
    sa.Column('referral_id', sa.String(length=36), nullable=False),
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=36), nullable=False),
    sa.Column('due_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dead_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('counted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('referral_id')
    )
    with op.batch_alter_table('referral_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_outcomes_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_outcomes_counted_at'), ['counted_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('referral_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_outcomes_counted_at'))
        batch_op.drop_index(batch_op.f('ix_referral_outcomes_incident_id'))

    op.drop_table('referral_outcomes')
