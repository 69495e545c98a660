"""The outbox purge, logged as erasure (contract section 12, `erased`).

Published outbox rows keep a copy of every event a service sent, personal data included
(an incident, a decision, a referral record), for a week in case of a redelivery. Deleting
them is erasure: each purge logs, in the transaction of its delete, the event ids it
deleted (never the data), as entries of at most 500 ids by the kind of record.

The outbox copies of the service's own log entries are not logged again: the entries
themselves are kept by the records service, and logging their deletion would log the log
forever (each purge's entries purged, and logged, by the next).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import Entry, items, log
from shared.outbox import Outbox
from shared.schemas.v1 import AuditResource
from shared.topics import (
    AUDIT_PREFIX,
    DECISIONS,
    ESCALATIONS,
    INCIDENTS,
    MARAC,
    PERPETRATORS,
    REFERRAL_OUTCOMES,
)

JOB = "outbox-purge"

BY_TYPE: tuple[tuple[str, AuditResource], ...] = (
    ("mash.incident.", "incident"),
    ("mash.risk_assessment.", "risk_assessment"),
    ("mash.triage.", "decision"),
    ("mash.referral.", "referral"),
    ("mash.marac.action", "action"),
    ("mash.marac.referral", "marac_referral"),
    ("mash.marac.", "marac_case"),
    ("mash.perpetrator.", "perpetrator"),
)
"""The kind of record an event is about, by the prefix of its `ce_type` (first match)."""

BY_TOPIC: dict[str, AuditResource] = {
    INCIDENTS: "incident",
    DECISIONS: "decision",
    MARAC: "marac_case",
    PERPETRATORS: "perpetrator",
    REFERRAL_OUTCOMES: "referral",
    ESCALATIONS: "referral",
}


def resource_of(topic: str, event_type: str) -> AuditResource | None:
    """The section-12 resource of an outbox row; None for the service's own log entries.
    A row of a topic and type the hub does not know (none in production) is `records`."""
    if topic.startswith(AUDIT_PREFIX):
        return None
    for prefix, resource in BY_TYPE:
        if event_type.startswith(prefix):
            return resource
    if topic.startswith("mash.referrals."):
        return "referral"
    return BY_TOPIC.get(topic, "records")


async def purge_published(
    session: AsyncSession,
    outbox_table: Table,
    outbox: Outbox,
    service: str,
    before: datetime,
    limit: int,
    now: datetime,
) -> int:
    """Delete up to `limit` rows published before `before`, oldest first, and log them as
    erased in `session`'s transaction; the number deleted.

    `DELETE ... RETURNING`: when two replicas purge at once, each logs only the rows its
    own statement deleted."""
    t = outbox_table
    oldest = (
        select(t.c.id)
        .where(t.c.published_at.is_not(None), t.c.published_at < before)
        .order_by(t.c.id)
        .limit(limit)
    )
    deleted = (
        await session.execute(
            delete(t).where(t.c.id.in_(oldest)).returning(t.c.event_id, t.c.topic, t.c.headers)
        )
    ).all()
    by_resource: dict[AuditResource, list[str]] = defaultdict(list)
    for event_id, topic, headers in deleted:
        resource = resource_of(topic, str((headers or {}).get("ce_type", "")))
        if resource is not None:
            by_resource[resource].append(event_id)
    for resource, ids in sorted(by_resource.items()):
        entry = Entry(service, "erased", f"job:{JOB}", "job", JOB, resource)
        await log(outbox, session, entry, items(ids), now)
    return len(deleted)
