"""The equality monitoring given on incidents, from intake's own topic: a table of its own,
filled from what the cases' incidents held (they came with triage's decisions until then),
which no longer keep it

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_cases = sa.table(
    "cases",
    sa.column("case_id", sa.String()),
    sa.column("area", sa.String()),
    sa.column("incidents", sa.JSON()),
)


def upgrade() -> None:
    given = op.create_table(
        "equality_given",
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("equality", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    assert given is not None
    connection = op.get_bind()
    now = datetime.now(UTC)
    rows: dict[str, dict[str, Any]] = {}
    for case in connection.execute(sa.select(_cases)).all():
        incidents = list(case.incidents)
        if not any(i.get("equality") for i in incidents):
            continue
        for incident in incidents:
            if equality := incident.get("equality"):
                rows[incident["incident_id"]] = {
                    "incident_id": incident["incident_id"],
                    "area": case.area,
                    "reported_at": datetime.fromisoformat(incident["reported_at"]),
                    "equality": equality,
                    "received_at": now,
                }
        kept = [{k: v for k, v in i.items() if k != "equality"} for i in incidents]
        connection.execute(
            sa.update(_cases).where(_cases.c.case_id == case.case_id).values(incidents=kept)
        )
    if rows:
        op.bulk_insert(given, list(rows.values()))


def downgrade() -> None:
    # the cases' incidents are not given the block back: the earlier code counts none then
    op.drop_table("equality_given")
