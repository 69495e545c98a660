"""marac meeting facts; overdue referrals and perpetrator changes dropped

Partner referrals, discussed cases and actions come from mash.marac.v1; the escalations'
and perpetrators' tables go: the console reads neither topic.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('marac_referrals',
    sa.Column('marac_referral_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('area', sa.String(length=64), nullable=False),
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('marac_referral_id')
    )
    with op.batch_alter_table('marac_referrals', schema=None) as batch_op:
        batch_op.create_index('ix_marac_referrals_area_received', ['area', 'received_at'], unique=False)

    op.create_table('marac_closures',
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('meeting_id', sa.String(length=36), nullable=False),
    sa.Column('area', sa.String(length=64), nullable=False),
    sa.Column('meeting_date', sa.Date(), nullable=False),
    sa.Column('research_before_meeting', sa.JSON(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('case_id')
    )
    with op.batch_alter_table('marac_closures', schema=None) as batch_op:
        batch_op.create_index('ix_marac_closures_area_date', ['area', 'meeting_date'], unique=False)

    op.create_table('marac_actions',
    sa.Column('action_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('area', sa.String(length=64), nullable=False),
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('due_by', sa.Date(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('action_id')
    )
    with op.batch_alter_table('marac_actions', schema=None) as batch_op:
        batch_op.create_index('ix_marac_actions_area_due', ['area', 'due_by'], unique=False)

    with op.batch_alter_table('perpetrator_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_perpetrator_changes_area_at')
    op.drop_table('perpetrator_changes')
    with op.batch_alter_table('overdue_referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_overdue_referrals_incident_id'))
    op.drop_table('overdue_referrals')


def downgrade() -> None:
    op.create_table('overdue_referrals',
    sa.Column('referral_id', sa.String(length=36), nullable=False),
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=36), nullable=False),
    sa.Column('due_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('overdue_since', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('referral_id')
    )
    with op.batch_alter_table('overdue_referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_overdue_referrals_incident_id'), ['incident_id'], unique=False)
    op.create_table('perpetrator_changes',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('perpetrator_id', sa.String(length=64), nullable=False),
    sa.Column('area', sa.String(length=64), nullable=False),
    sa.Column('prioritised', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('perpetrator_changes', schema=None) as batch_op:
        batch_op.create_index('ix_perpetrator_changes_area_at', ['area', 'at'], unique=False)
    op.drop_table('marac_actions')
    op.drop_table('marac_closures')
    op.drop_table('marac_referrals')
