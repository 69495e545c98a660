"""Notify's queries over the referral ledger, its deliveries and attempts, and the
subscriptions.

Returns domain objects (`LedgerEntry`, `DueDelivery`); rows never leave this module.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notify.domain.delivery import REQUEUEABLE, WAITING, Next, Status, Verdict
from notify.domain.records import LedgerEntry
from notify.domain.referrals import NewReferral
from notify.store import attempts, deliveries, messages, referrals, subscriptions
from shared.db import utc
from shared.pagination import keyset


@dataclass(frozen=True)
class Webhook:
    """A subscription: where to POST and the sealed secret to sign with."""

    url: str
    sealed_secret: str


@dataclass(frozen=True)
class DueDelivery:
    """A webhook delivery that fell due, pinned to the subscription it was made under."""

    referral_id: str
    agency: str
    version: int
    attempts: int
    round_start: int
    """Attempts made before it was last queued (the retry schedule counts from here)."""
    trace: dict[str, str]
    webhook_url: str
    sealed_secret: str


@dataclass(frozen=True)
class Attempted:
    """What one webhook attempt came to, as the ledger records it."""

    number: int
    started_at: datetime
    finished_at: datetime
    verdict: Verdict
    http_status: int | None
    error: str | None


@dataclass(frozen=True)
class Overdue:
    """A referral past its `due_by` with no acknowledgement, not escalated yet."""

    referral_id: str
    agency: str
    incident_id: str
    reason: str
    victim_key: str
    due_by: datetime


def _entries() -> Any:
    """Referrals with their delivery, and whether their topic event is out yet."""
    outbox = messages.outbox
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


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        referral_id=row.referral_id,
        incident_id=row.incident_id,
        agency=row.agency,
        subject=row.subject,
        reason=row.reason,
        risk_level=row.risk_level,
        decision_id=row.decision_id,
        victim_key=row.victim_key,
        data=row.data,
        created_at=utc(row.created_at),
        review_due_at=utc(row.review_due_at) if row.review_due_at else None,
        acknowledged_at=utc(row.acknowledged_at) if row.acknowledged_at else None,
        channel=row.channel,
        status=Status(row.status),
        attempts=int(row.attempts),
        deliver_after=utc(row.deliver_after),
        delivered_at=utc(row.delivered_at) if row.delivered_at else None,
        trace=dict(row.trace or {}),
        published=row.published_at is not None or row.outbox_event_id is None,
        due_by=utc(row.due_by) if row.due_by else None,
        overdue_since=utc(row.overdue_since) if row.overdue_since else None,
    )


# the statements of every decision, built once (each call binds its values only)
_MADE_FOR = select(referrals.c.incident_id, referrals.c.agency, referrals.c.subject).where(
    referrals.c.incident_id.in_(bindparam("incident_ids", expanding=True))
)
_SUBSCRIPTIONS = select(
    subscriptions.c.agency, subscriptions.c.webhook_url, subscriptions.c.secret
).where(subscriptions.c.agency.in_(bindparam("agencies", expanding=True)))
_ADD_REFERRAL = insert(referrals)
_ADD_DELIVERY = insert(deliveries)


async def made_for(session: AsyncSession, incident_id: str) -> set[tuple[str, str]]:
    """The (agency, subject) pairs the incident already has referrals for."""
    return (await made_for_each(session, [incident_id])).get(incident_id, set())


async def made_for_each(
    session: AsyncSession, incident_ids: Collection[str]
) -> dict[str, set[tuple[str, str]]]:
    """For each of these incidents that has referrals, their (agency, subject) pairs: one
    query for a consumer's whole batch."""
    made: dict[str, set[tuple[str, str]]] = {}
    if not incident_ids:
        return made
    rows = await session.execute(_MADE_FOR, {"incident_ids": sorted(set(incident_ids))})
    for row in rows:
        made.setdefault(row.incident_id, set()).add((row.agency, row.subject))
    return made


async def subscriptions_of(session: AsyncSession, agencies: Collection[str]) -> dict[str, Webhook]:
    """The webhook subscription of each of these agencies that has one (one query)."""
    if not agencies:
        return {}
    rows = await session.execute(_SUBSCRIPTIONS, {"agencies": sorted(set(agencies))})
    return {row.agency: Webhook(row.webhook_url, row.secret) for row in rows}


@dataclass(frozen=True)
class NewEntry:
    """What the ledger records of a new referral: the referral as planned (agency, subject,
    reason, data, its times), the decision it comes of, and how it will be delivered."""

    referral_id: str
    referral: NewReferral
    incident_id: str
    decision_id: str
    risk_level: str
    victim_key: str
    """The Kafka key of the victim's events (`shared.identity.victim_key`)."""
    created_at: datetime
    clock_policy: str
    """The version of the acknowledgement clocks that set `referral.due_by`."""
    webhook: Webhook | None
    """The agency's subscription of now, which the delivery is pinned to (None: by topic)."""
    trace: dict[str, str]
    subject_keys: tuple[str, ...] = ()
    """The keys of the person it is about (`shared.audit.person_keys`), for its log entries."""


def _referral_row(new: NewEntry) -> dict[str, Any]:
    referral = new.referral
    return {
        "referral_id": new.referral_id,
        "incident_id": new.incident_id,
        "agency": referral.agency,
        "subject": referral.subject,
        "reason": referral.reason,
        "risk_level": new.risk_level,
        "decision_id": new.decision_id,
        "victim_key": new.victim_key,
        "data": referral.data,
        "created_at": new.created_at,
        "review_due_at": utc(referral.review_due_at) if referral.review_due_at else None,
        "due_by": utc(referral.due_by),
        "clock_policy": new.clock_policy,
        "subject_keys": list(new.subject_keys),
    }


def _delivery_row(new: NewEntry) -> dict[str, Any]:
    referral, webhook = new.referral, new.webhook
    return {
        "referral_id": new.referral_id,
        "agency": referral.agency,
        "channel": "webhook" if webhook else "topic",
        "status": Status.PENDING,
        "attempts": 0,
        "round_start": 0,
        "deliver_after": utc(referral.deliver_after),
        "due_at": utc(referral.deliver_after) if webhook else None,
        "version": 0,
        "trace": new.trace,
        "webhook_url": webhook.url if webhook else None,
        "secret": webhook.sealed_secret if webhook else None,
    }


async def add_referrals(session: AsyncSession, news: Sequence[NewEntry]) -> None:
    """Record referrals and their deliveries, one statement per table for them all: by
    webhook, pinned to the agency's subscription of now and due from `deliver_after`, when
    it has one; else on its topic alone."""
    if not news:
        return
    await session.execute(_ADD_REFERRAL, [_referral_row(new) for new in news])
    await session.execute(_ADD_DELIVERY, [_delivery_row(new) for new in news])


async def add_referral(session: AsyncSession, new: NewEntry) -> LedgerEntry:
    """Record one referral and its delivery (`add_referrals`), and read it back."""
    await add_referrals(session, [new])
    entry = await record(session, new.referral_id)
    assert entry is not None
    return entry


def entry_of(new: NewEntry) -> LedgerEntry:
    """The ledger entry of a new referral as `record` reads it back once `add_referrals`
    wrote it and before its topic event is staged (so `published`: no outbox row yet),
    without the read: what its event carries (tests/integration/notify/test_set_wise.py
    compares the two)."""
    referral = new.referral
    return LedgerEntry(
        referral_id=new.referral_id,
        incident_id=new.incident_id,
        agency=referral.agency,
        subject=referral.subject,
        reason=referral.reason,
        risk_level=new.risk_level,
        decision_id=new.decision_id,
        victim_key=new.victim_key,
        data=referral.data,
        created_at=utc(new.created_at),
        review_due_at=utc(referral.review_due_at) if referral.review_due_at else None,
        acknowledged_at=None,
        channel="webhook" if new.webhook else "topic",
        status=Status.PENDING,
        attempts=0,
        deliver_after=utc(referral.deliver_after),
        delivered_at=None,
        trace=dict(new.trace),
        published=True,
        due_by=utc(referral.due_by),
        overdue_since=None,
    )


REFERRALS_ORDER = (referrals.c.created_at, referrals.c.referral_id)
"""An agency's referrals, newest first; the id breaks ties (the key of a list's cursor)."""


async def records(
    session: AsyncSession,
    agency: str,
    incident_id: str | None,
    after: Sequence[Any] | None = None,
    limit: int | None = None,
) -> list[LedgerEntry]:
    """One agency's referrals (of one incident, if given), newest first: `limit` of them
    after the one whose (created_at, referral_id) is `after` (a page, `shared.pagination`)."""
    stmt = _entries().where(referrals.c.agency == agency)
    if incident_id is not None:
        stmt = stmt.where(referrals.c.incident_id == incident_id)
    if after is not None:
        stmt = stmt.where(keyset([(c, True) for c in REFERRALS_ORDER], after))
    stmt = stmt.order_by(*(c.desc() for c in REFERRALS_ORDER)).limit(limit)
    return [_entry(row) for row in await session.execute(stmt)]


async def record(session: AsyncSession, referral_id: str) -> LedgerEntry | None:
    stmt = _entries().where(referrals.c.referral_id == referral_id)
    row = (await session.execute(stmt)).first()
    return _entry(row) if row else None


async def subject_keys(
    session: AsyncSession, referral_ids: list[str]
) -> dict[str, tuple[str, ...]]:
    """The keys of the person each referral is about (none for a referral made before they
    were kept), for its log entries."""
    if not referral_ids:
        return {}
    stmt = select(referrals.c.referral_id, referrals.c.subject_keys).where(
        referrals.c.referral_id.in_(referral_ids)
    )
    rows = await session.execute(stmt)
    return {row.referral_id: tuple(row.subject_keys or ()) for row in rows}


async def delivery_url(session: AsyncSession, referral_id: str) -> str | None:
    """The webhook a delivery is pinned to now (None: it went by topic alone)."""
    stmt = select(deliveries.c.webhook_url).where(deliveries.c.referral_id == referral_id)
    found: str | None = (await session.execute(stmt)).scalar_one_or_none()
    return found


async def acknowledge(session: AsyncSession, referral_id: str, at: datetime) -> bool:
    """Record the agency's acknowledgement; False when it was acknowledged before (the
    first one counts)."""
    result = await session.execute(
        update(referrals)
        .where(referrals.c.referral_id == referral_id, referrals.c.acknowledged_at.is_(None))
        .values(acknowledged_at=utc(at))
    )
    return bool(getattr(result, "rowcount", 0))


async def subscription(session: AsyncSession, agency: str) -> Webhook | None:
    """The agency's webhook subscription, if it has one."""
    stmt = select(subscriptions.c.webhook_url, subscriptions.c.secret).where(
        subscriptions.c.agency == agency
    )
    row = (await session.execute(stmt)).first()
    return Webhook(row.webhook_url, row.secret) if row else None


async def subscribe(
    session: AsyncSession, agency: str, url: str, sealed_secret: str, now: datetime
) -> None:
    """Set (or replace) the agency's webhook (deliveries made before keep theirs)."""
    await session.execute(delete(subscriptions).where(subscriptions.c.agency == agency))
    await session.execute(
        insert(subscriptions).values(
            agency=agency, webhook_url=url, secret=sealed_secret, updated_at=now
        )
    )


async def unsubscribe(session: AsyncSession, agency: str) -> bool:
    """Remove the agency's webhook and cancel its waiting deliveries; False when it had
    none."""
    result = await session.execute(delete(subscriptions).where(subscriptions.c.agency == agency))
    if not getattr(result, "rowcount", 0):
        return False
    await session.execute(
        update(deliveries)
        .where(
            deliveries.c.agency == agency,
            deliveries.c.channel == "webhook",
            deliveries.c.status.in_(WAITING),
        )
        .values(status=Status.CANCELLED, due_at=None)
    )
    return True


async def own_webhook(session: AsyncSession, referral_id: str) -> Webhook | None:
    """The webhook (URL and sealed secret) a delivery was made under, if it had one."""
    stmt = select(deliveries.c.webhook_url, deliveries.c.secret).where(
        deliveries.c.referral_id == referral_id
    )
    row = (await session.execute(stmt)).first()
    if row is None or row.webhook_url is None or row.secret is None:
        return None
    return Webhook(row.webhook_url, row.secret)


async def requeue(session: AsyncSession, referral_id: str, webhook: Webhook, now: datetime) -> bool:
    """Queue a delivery again, to `webhook`, due now, its retry schedule started afresh;
    False when it was delivered (or is not requeueable)."""
    result = await session.execute(
        update(deliveries)
        .where(deliveries.c.referral_id == referral_id, deliveries.c.status.in_(REQUEUEABLE))
        .values(
            channel="webhook",
            status=Status.PENDING,
            due_at=utc(now),
            round_start=deliveries.c.attempts,
            webhook_url=webhook.url,
            secret=webhook.sealed_secret,
            last_error=None,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def dead_since(session: AsyncSession, agency: str, since: datetime) -> list[str]:
    """The agency's dead deliveries whose referrals were made at or after `since`."""
    stmt = (
        select(deliveries.c.referral_id)
        .join(referrals, referrals.c.referral_id == deliveries.c.referral_id)
        .where(
            deliveries.c.agency == agency,
            deliveries.c.status == Status.DEAD,
            referrals.c.created_at >= utc(since),
        )
        .order_by(referrals.c.created_at)
    )
    return list((await session.execute(stmt)).scalars())


def _waiting(agency: str) -> Any:
    return (
        deliveries.c.agency == agency,
        deliveries.c.channel == "webhook",
        deliveries.c.status.in_(WAITING),
        deliveries.c.webhook_url.is_not(None),
    )


async def next_due(session: AsyncSession, agency: str, now: datetime) -> DueDelivery | None:
    """The agency's webhook delivery that fell due first."""
    stmt = (
        select(deliveries)
        .where(*_waiting(agency), deliveries.c.due_at <= utc(now))
        .order_by(deliveries.c.due_at, deliveries.c.referral_id)
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return DueDelivery(
        referral_id=row.referral_id,
        agency=row.agency,
        version=int(row.version),
        attempts=int(row.attempts),
        round_start=int(row.round_start),
        trace=dict(row.trace or {}),
        webhook_url=row.webhook_url,
        sealed_secret=row.secret,
    )


async def earliest_due(session: AsyncSession, agency: str) -> datetime | None:
    """When the agency's next webhook delivery falls due (None when none waits)."""
    stmt = select(func.min(deliveries.c.due_at)).where(*_waiting(agency))
    found: datetime | None = (await session.execute(stmt)).scalar_one_or_none()
    return utc(found) if found else None


async def lease(
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


async def close_interrupted(session: AsyncSession, referral_id: str, now: datetime) -> int:
    """An attempt left in flight (notify stopped or crashed between starting it and
    recording its answer) is recorded as `Verdict.UNKNOWN`: the POST may have reached the
    receiver. It counts as an attempt. Returns the delivery's attempts after it."""
    stmt = select(attempts.c.attempt).where(
        attempts.c.referral_id == referral_id, attempts.c.verdict == Verdict.IN_FLIGHT
    )
    left = list((await session.execute(stmt)).scalars())
    if left:
        await session.execute(
            update(attempts)
            .where(attempts.c.referral_id == referral_id, attempts.c.verdict == Verdict.IN_FLIGHT)
            .values(
                verdict=Verdict.UNKNOWN,
                finished_at=utc(now),
                error="no answer recorded: notify stopped during the attempt",
            )
        )
        await session.execute(
            update(deliveries)
            .where(deliveries.c.referral_id == referral_id, deliveries.c.attempts < max(left))
            .values(attempts=max(left))
        )
    stmt = select(deliveries.c.attempts).where(deliveries.c.referral_id == referral_id)
    return int((await session.execute(stmt)).scalar_one())


async def start_attempt(
    session: AsyncSession, referral_id: str, number: int, started_at: datetime
) -> None:
    """Record attempt `number` as in flight, before its POST (committed on its own)."""
    await session.execute(
        insert(attempts).values(
            referral_id=referral_id,
            attempt=number,
            started_at=utc(started_at),
            finished_at=None,
            verdict=Verdict.IN_FLIGHT,
        )
    )


async def release(session: AsyncSession, referral_id: str, version: int, now: datetime) -> None:
    """Give a lease back without an answer (notify is stopping): the delivery is due again,
    its attempt in flight recorded as `unknown`."""
    await close_interrupted(session, referral_id, now)
    await session.execute(
        update(deliveries)
        .where(deliveries.c.referral_id == referral_id, deliveries.c.version == version)
        .values(due_at=utc(now))
    )


async def delivery_status(session: AsyncSession, referral_id: str) -> Status | None:
    stmt = select(deliveries.c.status).where(deliveries.c.referral_id == referral_id)
    found: str | None = (await session.execute(stmt)).scalar_one_or_none()
    return Status(found) if found else None


async def finish_attempt(
    session: AsyncSession, referral_id: str, attempt: Attempted, after: Next
) -> None:
    """Record what an attempt in flight came to, and the delivery's state after it."""
    await session.execute(
        update(attempts)
        .where(attempts.c.referral_id == referral_id, attempts.c.attempt == attempt.number)
        .values(
            finished_at=utc(attempt.finished_at),
            verdict=attempt.verdict,
            http_status=attempt.http_status,
            error=attempt.error,
        )
    )
    await session.execute(
        update(deliveries)
        .where(deliveries.c.referral_id == referral_id)
        .values(
            status=after.status,
            attempts=attempt.number,
            due_at=utc(after.due_at) if after.due_at else None,
            delivered_at=utc(attempt.finished_at) if after.status == Status.DELIVERED else None,
            last_error=attempt.error,
        )
    )


async def overdue(session: AsyncSession, now: datetime, limit: int = 100) -> list[Overdue]:
    """Referrals past `due_by` without an acknowledgement, not escalated yet."""
    stmt = (
        select(referrals)
        .where(
            referrals.c.overdue_since.is_(None),
            referrals.c.acknowledged_at.is_(None),
            referrals.c.due_by <= utc(now),
        )
        .order_by(referrals.c.due_by, referrals.c.referral_id)
        .limit(limit)
    )
    return [
        Overdue(
            referral_id=row.referral_id,
            agency=row.agency,
            incident_id=row.incident_id,
            reason=row.reason,
            victim_key=row.victim_key,
            due_by=utc(row.due_by),
        )
        for row in await session.execute(stmt)
    ]


async def mark_overdue(session: AsyncSession, referral_id: str, since: datetime) -> bool:
    """Mark a referral overdue, once: False when it was already (another instance)."""
    result = await session.execute(
        update(referrals)
        .where(referrals.c.referral_id == referral_id, referrals.c.overdue_since.is_(None))
        .values(overdue_since=utc(since))
    )
    return bool(getattr(result, "rowcount", 0))
