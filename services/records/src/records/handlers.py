"""Records' handlers: keep each log entry once, chained; verify the chains; erase what
has been kept long enough, logging the erasure.

The module ends with `EVENTS`, the table the consumer dispatches from: the six
`mash.audit.<operation>` types, all kept alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from records import chaining, disclosures, repository
from records.chaining import chain_lock
from records.config import Settings
from records.domain.chain import START, Break, Record, walk
from records.domain.retention import cutoff, erasable
from records.schemas import PersonSearch
from shared import audit
from shared.db import hold, utc
from shared.envelope import CloudEvent
from shared.identity import keys_of_fields
from shared.kafka import EventTable, On
from shared.schemas import AuditEntry
from shared.service import Platform
from shared.topics import AUDIT_OPERATIONS, audit_type

log = logging.getLogger(__name__)
PAGE = 1000
RETENTION = "records.retention"


@dataclass(frozen=True)
class Records:
    """The handlers' context: the platform and the chain's metrics."""

    platform: Platform[Settings]
    chain_broken: Gauge
    erased: Counter

    @classmethod
    def on(cls, platform: Platform[Settings]) -> Records:
        registry = platform.metrics.registry
        broken = Gauge(
            "mash_records_chain_broken",
            "1 when the latest verification found a log entry changed or missing",
            registry=registry,
        )
        erased = Counter(
            "mash_records_erased", "Log entries erased by retention", registry=registry
        )
        return cls(platform, broken, erased)


def record_of(entry: AuditEntry) -> Record:
    return Record(
        entry_id=str(entry.entry_id),
        at=utc(entry.at),
        service=entry.service,
        operation=entry.operation,
        sub=entry.sub,
        via=entry.via,
        route=entry.route,
        resource=entry.resource,
        ids=tuple(entry.ids),
        subjects=tuple(entry.subjects),
        recipient=entry.recipient,
        status=entry.status,
    )


async def on_audit_entry(
    records: Records, session: AsyncSession, entry: AuditEntry, event: CloudEvent, now: datetime
) -> None:
    """Keep an entry once, as the next link of its service's chain: staged, and chained
    with the rest of the transaction's entries when it commits (`records.chaining`).

    Only a service's own topic may speak for it (the broker lets no other principal write
    there): an entry naming another service is dead-lettered, never chained."""
    chaining.stage(session, event.id, record_of(entry), now)


def person_keys(secret: str, person: PersonSearch) -> tuple[str, ...]:
    """The keys a person's entries carry, by the hub's identity rule (as
    `shared.audit.person_keys` makes them when the entries are logged)."""
    return keys_of_fields(
        secret,
        person.person_id,
        person.given_name or "",
        person.family_name or "",
        person.date_of_birth,
    )


@dataclass(frozen=True)
class Verdict:
    """Every chain verified: how many entries, or the first break."""

    entries: int
    broken: Break | None = None


async def verify(records: Records) -> Verdict:
    """Walk every service's chain from its checkpoint (or its start), in one snapshot."""
    platform = records.platform
    total = 0
    async with platform.sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            # one snapshot: retention erasing meanwhile must not look like a break
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        for service in await repository.services(session):
            at = await repository.checkpoint(session, service) or START
            seq = -1
            while page := await repository.chain_of(session, service, seq, PAGE):
                rows = await repository.indexed(session, [e.record.entry_id for e in page])
                result = walk(service, at, page, rows)
                if isinstance(result, Break):
                    records.chain_broken.set(1)
                    return Verdict(total, result)
                at, seq, total = result, page[-1].seq, total + len(page)
    records.chain_broken.set(0)
    return Verdict(total)


async def retain(records: Records, now: datetime) -> int:
    """Erase each chain's entries older than the retention period, oldest first, leaving
    a checkpoint and logging the erasure (`erased`, the entries' ids and people)."""
    platform = records.platform
    settings = platform.settings
    before = cutoff(now, settings.retention_days)
    async with platform.sessions() as session:
        services = await repository.services(session)
    done = 0
    for service in services:
        while True:
            async with platform.uow() as session:
                await hold(session, [chain_lock(service)])
                head = await repository.chain_of(session, service, -1, settings.retention_batch)
                gone = erasable(head, before)
                if not gone:
                    break
                await repository.erase(session, service, gone, now)
                entry = audit.Entry(
                    "records", "erased", f"job:{RETENTION}", "job", RETENTION, "records"
                )
                found = [audit.Item(e.record.entry_id, e.record.subjects) for e in gone]
                await audit.log(platform.outbox, session, entry, found, now)
            done += len(gone)
            records.erased.inc(len(gone))
            if len(gone) < len(head) or len(head) < settings.retention_batch:
                break
    # the referral records kept as disclosed go after the same period (disclosures.py)
    return done + await disclosures.retain(records, now)


EVENTS: EventTable[Records] = {
    audit_type(operation): On(AuditEntry, on_audit_entry) for operation in AUDIT_OPERATIONS
}
