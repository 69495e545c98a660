"""What each agency was sent: every referral record notify disclosed on an agency's topic,
kept exactly as it was received, so a Domestic Abuse Related Death Review can be shown
what that agency had by a given moment (contract 12, "Chronology for a review").

The log entries name only ids; the record itself is personal data, so it is kept as the
log is: inserted once, never updated, and erased after `RECORDS_RETENTION_DAYS`, the
erasure logged as `erased` (resource `referral`, the ids and the people's keys, never the
record). Records reads the five referral topics with a consumer group of its own
(`mash-records-disclosures`), so its offsets there are apart from the log topics'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from records import repository
from records.domain.retention import cutoff
from records.offsets import person_keys
from records.store import disclosure_subjects, disclosures
from shared import audit
from shared.db import utc
from shared.envelope import CloudEvent
from shared.kafka import EventTable, On, PoisonMessage
from shared.schemas.v1 import Agency
from shared.topics import REFERRAL_CREATED, referrals_topic

if TYPE_CHECKING:
    from records.handlers import Records

RETENTION = "records.retention"
GROUP_SUFFIX = "disclosures"
"""Records' consumer group on the referral topics: `mash-records-disclosures`."""


class Disclosed(BaseModel):
    """What records reads of a referral record: its ids and agency. The rest is kept as
    sent, whatever it holds (notify's `ReferralCreated` is the record's schema)."""

    model_config = ConfigDict(extra="ignore")

    referral_id: UUID
    agency: Agency
    incident_id: UUID


@dataclass(frozen=True)
class Disclosure:
    """One referral record as its agency received it (`record`: the value's JSON text)."""

    id: int
    referral_id: str
    agency: str
    incident_id: str
    disclosed_at: datetime
    record: str


def subjects_of(secret: str, event: CloudEvent) -> tuple[str, ...]:
    """The people a record is about: the Kafka key (the victim's key) and the keys of the
    people the minimised record names (victim, suspect, children), by the identity rule."""
    data = event.data.get("data")
    data = data if isinstance(data, dict) else {}
    children = data.get("children")
    people = [data.get("victim"), data.get("suspect")]
    people += children if isinstance(children, list) else []
    keys = [event.key] if event.key else []
    keys += [k for p in people for k in person_keys(secret, p)]
    return tuple(dict.fromkeys(k[:128] for k in keys))


async def on_referral_disclosed(
    records: Records,
    session: AsyncSession,
    referral: Disclosed,
    event: CloudEvent,
    now: datetime,
) -> None:
    """Keep a disclosed referral record once, as received. Only the agency's own topic
    carries its referrals: one naming another agency is dead-lettered."""
    if await repository.topic_of(session, event.id) != referrals_topic(referral.agency):
        raise PoisonMessage("the referral names an agency other than its topic's")
    referral_id = str(referral.referral_id)
    found = await session.execute(
        select(disclosures.c.id).where(disclosures.c.referral_id == referral_id)
    )
    if found.first() is not None:
        return  # the same record under another event id: kept once
    secret = records.platform.settings.hub.pseudonym_key
    await session.execute(
        disclosures.insert().values(
            referral_id=referral_id,
            agency=referral.agency,
            incident_id=str(referral.incident_id),
            disclosed_at=utc(event.time),
            record=event.raw.decode("utf-8"),
            stored_at=now,
        )
    )
    if keys := subjects_of(secret, event):
        await session.execute(
            disclosure_subjects.insert(),
            [{"subject": k, "referral_id": referral_id} for k in keys],
        )


DISCLOSURES: EventTable[Records] = {REFERRAL_CREATED: On(Disclosed, on_referral_disclosed)}


def _disclosure(row: Any) -> Disclosure:
    return Disclosure(
        row.id, row.referral_id, row.agency, row.incident_id, utc(row.disclosed_at), row.record
    )


async def received(
    session: AsyncSession,
    agency: str,
    subjects: Sequence[str],
    as_of: datetime,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Disclosure]:
    """The records disclosed to `agency` at or before `as_of` about the person keyed
    `subjects`, in the order they were sent, after the position `after`."""
    about = select(disclosure_subjects.c.referral_id).where(
        disclosure_subjects.c.subject.in_(subjects)
    )
    query = select(disclosures).where(
        disclosures.c.agency == agency,
        disclosures.c.disclosed_at <= as_of,
        disclosures.c.referral_id.in_(about),
    )
    if after is not None:
        at, row = after
        query = query.where(
            (disclosures.c.disclosed_at > at)
            | ((disclosures.c.disclosed_at == at) & (disclosures.c.id > row))
        )
    order = (disclosures.c.disclosed_at, disclosures.c.id)
    found = await session.execute(query.order_by(*order).limit(limit))
    return [_disclosure(r) for r in found]


async def people(session: AsyncSession, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The keys of the people each of these kept records is about."""
    found = await session.execute(
        select(disclosure_subjects.c.referral_id, disclosure_subjects.c.subject).where(
            disclosure_subjects.c.referral_id.in_(ids)
        )
    )
    keys: dict[str, list[str]] = {i: [] for i in ids}
    for referral_id, subject in found.tuples():
        keys[referral_id].append(subject)
    return {i: tuple(sorted(k)) for i, k in keys.items()}


async def _erase(session: AsyncSession, ids: list[str], before: datetime) -> int:
    """Delete these records (and their people's rows) if disclosed before `before`.
    PostgreSQL: through `records_erase_disclosures` (the service's role may not delete)."""
    if session.get_bind().dialect.name == "postgresql":
        statement = text("SELECT records_erase_disclosures(:ids, :before)").bindparams(
            bindparam("ids", type_=ARRAY(String))
        )
        found = await session.execute(statement, {"ids": ids, "before": before})
        return int(found.scalar_one())
    old = select(disclosures.c.referral_id).where(
        disclosures.c.referral_id.in_(ids), disclosures.c.disclosed_at < before
    )
    await session.execute(
        delete(disclosure_subjects).where(disclosure_subjects.c.referral_id.in_(old))
    )
    gone = await session.execute(
        delete(disclosures).where(
            disclosures.c.referral_id.in_(ids), disclosures.c.disclosed_at < before
        )
    )
    return int(getattr(gone, "rowcount", 0) or 0)


async def retain(records: Records, now: datetime) -> int:
    """Erase the records disclosed before the retention period, a batch per transaction,
    each erasure logged (`erased`, resource `referral`: ids and keys, never the record)."""
    platform = records.platform
    settings = platform.settings
    before = cutoff(now, settings.retention_days)
    done = 0
    while True:
        async with platform.uow() as session:
            found = await session.execute(
                select(disclosures.c.referral_id)
                .where(disclosures.c.disclosed_at < before)
                .order_by(disclosures.c.disclosed_at, disclosures.c.id)
                .limit(settings.retention_batch)
            )
            ids = list(found.scalars().all())
            if not ids:
                return done
            keys = await people(session, ids)
            if await _erase(session, ids, before) != len(ids):
                raise RuntimeError("the disclosed records changed while they were being erased")
            by = f"job:{RETENTION}"
            entry = audit.Entry("records", "erased", by, "job", RETENTION, "referral")
            items = [audit.Item(i, keys[i]) for i in ids]
            await audit.log(platform.outbox, session, entry, items, now)
        done += len(ids)
        if len(ids) < settings.retention_batch:
            return done
