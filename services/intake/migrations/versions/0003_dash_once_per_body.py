"""a DASH is accepted once per incident and body

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("risk_assessments", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_risk_assessment_incident_body", ["incident_id", "fingerprint"]
        )


def downgrade() -> None:
    with op.batch_alter_table("risk_assessments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_risk_assessment_incident_body", type_="unique")
