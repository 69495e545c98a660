"""own access tokens of sessions (sealed; for the scopes a console may not pass on)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('own_tokens',
    sa.Column('session_hash', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=False),
    sa.Column('audience', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('session_hash')
    )
    with op.batch_alter_table('own_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_own_tokens_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('own_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_own_tokens_expires_at'))

    op.drop_table('own_tokens')
