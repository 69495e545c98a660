"""The queries over the referral ledger that notify's handlers, API and worker need."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notify.store import deliveries, platform, referrals, subscriptions
from shared.db import utc

WAITING = ("pending", "failed")


def _records() -> Any:
    """Referrals with their delivery, and whether their topic event is out yet (the relay
    purges published outbox rows after a while: a missing row was published)."""
    outbox = platform.outbox
    return (
        select(
            referrals,
            deliveries.c.channel,
            deliveries.c.status,
            deliveries.c.attempts,
            deliveries.c.deliver_after,
            deliveries.c.delivered_at,
            deliveries.c.trace,
            outbox.c.published_at,
            outbox.c.event_id.label("outbox_event_id"),
        )
        .join(deliveries, deliveries.c.referral_id == referrals.c.referral_id)
        .join(outbox, outbox.c.event_id == referrals.c.referral_id, isouter=True)
    )


async def made_for(session: AsyncSession, incident_id: str) -> set[tuple[str, str]]:
    """The (agency, subject) pairs the incident already has referrals for."""
    stmt = select(referrals.c.agency, referrals.c.subject).where(
        referrals.c.incident_id == incident_id
    )
    return {(row.agency, row.subject) for row in await session.execute(stmt)}


async def records(session: AsyncSession, agency: str, incident_id: str | None) -> list[Any]:
    """One agency's referrals (of one incident, if given), oldest first."""
    stmt = _records().where(referrals.c.agency == agency)
    if incident_id is not None:
        stmt = stmt.where(referrals.c.incident_id == incident_id)
    stmt = stmt.order_by(referrals.c.created_at, referrals.c.referral_id)
    return list((await session.execute(stmt)).all())


async def record(session: AsyncSession, referral_id: str) -> Any | None:
    stmt = _records().where(referrals.c.referral_id == referral_id)
    return (await session.execute(stmt)).first()


async def acknowledge(session: AsyncSession, referral_id: str, at: datetime) -> None:
    """Record the agency's acknowledgement (the first one counts)."""
    await session.execute(
        update(referrals)
        .where(referrals.c.referral_id == referral_id, referrals.c.acknowledged_at.is_(None))
        .values(acknowledged_at=utc(at))
    )


async def subscription(session: AsyncSession, agency: str) -> Any | None:
    stmt = select(subscriptions).where(subscriptions.c.agency == agency)
    return (await session.execute(stmt)).first()


async def next_due(session: AsyncSession, agency: str, now: datetime) -> Any | None:
    """The agency's webhook delivery that fell due first, while it has a subscription."""
    stmt = (
        select(deliveries, subscriptions.c.webhook_url, subscriptions.c.secret)
        .join(subscriptions, subscriptions.c.agency == deliveries.c.agency)
        .where(
            deliveries.c.agency == agency,
            deliveries.c.channel == "webhook",
            deliveries.c.status.in_(WAITING),
            deliveries.c.due_at <= utc(now),
        )
        .order_by(deliveries.c.due_at, deliveries.c.referral_id)
        .limit(1)
    )
    return (await session.execute(stmt)).first()


async def earliest_due(session: AsyncSession, agency: str) -> datetime | None:
    """When the agency's next webhook delivery falls due (None when none waits)."""
    stmt = (
        select(func.min(deliveries.c.due_at))
        .join(subscriptions, subscriptions.c.agency == deliveries.c.agency)
        .where(
            deliveries.c.agency == agency,
            deliveries.c.channel == "webhook",
            deliveries.c.status.in_(WAITING),
        )
    )
    found: datetime | None = (await session.execute(stmt)).scalar_one_or_none()
    return found


async def claim(
    session: AsyncSession, referral_id: str, version: int, lease_until: datetime
) -> bool:
    """Take a delivery for one attempt: no one else (no other instance, no restart before
    `lease_until`) will try it meanwhile. False when someone else already took it."""
    result = await session.execute(
        update(deliveries)
        .where(
            deliveries.c.referral_id == referral_id,
            deliveries.c.version == version,
            deliveries.c.status.in_(WAITING),
        )
        .values(version=version + 1, due_at=utc(lease_until))
    )
    return bool(getattr(result, "rowcount", 0))


async def release(session: AsyncSession, referral_id: str, version: int, now: datetime) -> None:
    """Give a claim back without an answer (notify is stopping): the delivery is due again."""
    await session.execute(
        update(deliveries)
        .where(deliveries.c.referral_id == referral_id, deliveries.c.version == version)
        .values(due_at=utc(now))
    )
