"""the incidents kept without their victim's equality monitoring: it no longer comes with
the incident (intake gives it to marac alone, issue 21), and an incident kept with it would
no longer read as `IncidentReported`

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_incidents = sa.table(
    "incidents", sa.column("incident_id", sa.String()), sa.column("incident", sa.JSON())
)


def upgrade() -> None:
    connection = op.get_bind()
    # only the rows whose text names the block at all (a cheap first pass on both databases)
    named = sa.cast(_incidents.c.incident, sa.Text).like('%"equality"%')
    for row in connection.execute(sa.select(_incidents).where(named)).all():
        incident = dict(row.incident)
        victim = dict(incident.get("victim") or {})
        if "equality" not in victim:
            continue
        del victim["equality"]
        connection.execute(
            sa.update(_incidents)
            .where(_incidents.c.incident_id == row.incident_id)
            .values(incident={**incident, "victim": victim})
        )


def downgrade() -> None:
    # what was removed is not kept anywhere in triage: there is nothing to put back
    pass
