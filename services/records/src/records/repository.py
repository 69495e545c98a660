"""Every query of the records store. Entries are only inserted and read; the retention
job alone deletes, a chain's oldest entries only, leaving a checkpoint (store.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select, text, union
from sqlalchemy.ext.asyncio import AsyncSession

from records.domain.chain import START, Chained, Indexed, Link, Record, fields_of
from records.store import checkpoints, entries, entry_ids, entry_subjects, messages
from shared.db import utc


@dataclass(frozen=True)
class Filters:
    """What a list of entries is narrowed to; every field optional."""

    record_id: str | None = None
    subjects: tuple[str, ...] = ()
    sub: str | None = None
    operation: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Position:
    """Where an entry sits in the oldest-first order of every list: (at, row id)."""

    at: datetime
    id: int


@dataclass(frozen=True)
class Listed:
    position: Position
    record: Record


def record_of_row(row: Any) -> Record:
    """An entry as kept, read back from its row."""
    return Record(
        entry_id=row.entry_id,
        at=utc(row.at),
        service=row.service,
        operation=row.operation,
        sub=row.sub,
        via=row.via,
        route=row.route,
        resource=row.resource,
        ids=tuple(row.ids),
        subjects=tuple(row.subjects),
        recipient=row.recipient,
        status=row.status,
    )


def _chained(row: Any) -> Chained:
    return Chained(record_of_row(row), row.seq, row.prev_hash, row.hash)


async def topic_of(session: AsyncSession, event_id: str) -> str | None:
    """The topic an event came on, as the consumer loop entered it in the inbox."""
    return (await topics_of(session, [event_id])).get(event_id)


_TOPICS = select(messages.inbox.c.event_id, messages.inbox.c.topic).where(
    messages.inbox.c.event_id.in_(bindparam("event_ids", expanding=True))
)
_KEPT = select(entries.c.entry_id).where(
    entries.c.entry_id.in_(bindparam("entry_ids", expanding=True))
)
# built once: a batch's rows go in one executemany per table
_ADD_ENTRIES = entries.insert()
_ADD_SUBJECTS = entry_subjects.insert()
_ADD_IDS = entry_ids.insert()


async def topics_of(session: AsyncSession, event_ids: Sequence[str]) -> dict[str, str]:
    """The topic each of these events came on, as the consumer loop entered it in the inbox."""
    found = await session.execute(_TOPICS, {"event_ids": list(event_ids)})
    return {event_id: topic for event_id, topic in found.tuples()}


async def kept_of(session: AsyncSession, entry_ids: Sequence[str]) -> set[str]:
    """Which of these entries are kept already."""
    found = await session.execute(_KEPT, {"entry_ids": list(entry_ids)})
    return set(found.scalars())


async def checkpoint(session: AsyncSession, service: str) -> Link | None:
    """Where the service's chain resumes after the latest retention erasure, if any."""
    found = await session.execute(
        select(checkpoints.c.seq, checkpoints.c.hash)
        .where(checkpoints.c.service == service)
        .order_by(checkpoints.c.seq.desc())
        .limit(1)
    )
    row = found.first()
    return Link(row.seq, row.hash) if row else None


async def chain_end(session: AsyncSession, service: str) -> Link:
    """The latest link of a service's chain: its newest entry, or its checkpoint when
    retention erased them all, or START."""
    found = await session.execute(
        select(entries.c.seq, entries.c.hash)
        .where(entries.c.service == service)
        .order_by(entries.c.seq.desc())
        .limit(1)
    )
    row = found.first()
    if row is not None:
        return Link(row.seq, row.hash)
    return await checkpoint(session, service) or START


async def add(session: AsyncSession, chained: Sequence[tuple[Chained, datetime]]) -> None:
    """Keep chained entries (each with its time of processing), with their people and
    record ids one a row: one executemany per table, whatever the number of entries."""
    if not chained:
        return
    rows, subjects, ids = [], [], []
    for entry, now in chained:
        record = entry.record
        rows.append(
            {
                **fields_of(record),
                "seq": entry.seq,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
                "stored_at": now,
            }
        )
        subjects += [
            {"subject": s, "entry_id": record.entry_id} for s in dict.fromkeys(record.subjects)
        ]
        ids += [{"record_id": i, "entry_id": record.entry_id} for i in dict.fromkeys(record.ids)]
    await session.execute(_ADD_ENTRIES, rows)
    if subjects:
        await session.execute(_ADD_SUBJECTS, subjects)
    if ids:
        await session.execute(_ADD_IDS, ids)


def _filtered(filters: Filters) -> Select[Any]:
    query = select(entries)
    if filters.record_id is not None:
        ids = select(entry_ids.c.entry_id).where(entry_ids.c.record_id == filters.record_id)
        query = query.where(entries.c.entry_id.in_(ids))
    if filters.subjects:
        keys = select(entry_subjects.c.entry_id).where(
            entry_subjects.c.subject.in_(filters.subjects)
        )
        query = query.where(entries.c.entry_id.in_(keys))
    if filters.sub is not None:
        query = query.where(entries.c.sub == filters.sub)
    if filters.operation is not None:
        query = query.where(entries.c.operation == filters.operation)
    if filters.since is not None:
        query = query.where(entries.c.at >= filters.since)
    if filters.until is not None:
        query = query.where(entries.c.at < filters.until)
    return query


async def listed(
    session: AsyncSession, filters: Filters, after: Position | None, limit: int
) -> list[Listed]:
    """Up to `limit` entries matching `filters`, oldest first, after `after`."""
    query = _filtered(filters)
    if after is not None:
        query = query.where(
            (entries.c.at > after.at) | ((entries.c.at == after.at) & (entries.c.id > after.id))
        )
    found = await session.execute(query.order_by(entries.c.at, entries.c.id).limit(limit))
    return [Listed(Position(utc(r.at), r.id), record_of_row(r)) for r in found]


async def services(session: AsyncSession) -> list[str]:
    """Every service with a chain (entries kept, or erased behind a checkpoint)."""
    found = await session.execute(union(select(entries.c.service), select(checkpoints.c.service)))
    return sorted(found.scalars().all())


async def chain_of(
    session: AsyncSession, service: str, after_seq: int, limit: int
) -> list[Chained]:
    """A service's kept entries in chain order, from after position `after_seq`."""
    found = await session.execute(
        select(entries)
        .where(entries.c.service == service, entries.c.seq > after_seq)
        .order_by(entries.c.seq)
        .limit(limit)
    )
    return [_chained(r) for r in found]


async def first_of(session: AsyncSession, service: str, limit: int) -> list[Chained]:
    """A service's oldest kept entries, in chain order (whatever their position)."""
    return await chain_of(session, service, -1, limit)


async def indexed(session: AsyncSession, wanted: Sequence[str]) -> dict[str, Indexed]:
    """The search rows (people, record ids) kept for each of these entries."""
    subjects: dict[str, set[str]] = {i: set() for i in wanted}
    ids: dict[str, set[str]] = {i: set() for i in wanted}
    for table, column, into in (
        (entry_subjects, entry_subjects.c.subject, subjects),
        (entry_ids, entry_ids.c.record_id, ids),
    ):
        found = await session.execute(
            select(table.c.entry_id, column).where(table.c.entry_id.in_(wanted))
        )
        for entry_id, value in found.tuples():
            into[entry_id].add(value)
    return {i: (frozenset(subjects[i]), frozenset(ids[i])) for i in wanted}


async def count(session: AsyncSession) -> int:
    found = await session.execute(select(func.count()).select_from(entries))
    return int(found.scalar_one())


async def erase(
    session: AsyncSession, service: str, erased: Sequence[Chained], now: datetime
) -> None:
    """Delete a chain's leading entries and leave the checkpoint it resumes from.

    PostgreSQL: through `records_erase` (see the migration), as the service's role may
    not delete; it erases the head up to the given position and writes the checkpoint
    from the row itself. SQLite: the same statements here."""
    last = erased[-1]
    if session.get_bind().dialect.name == "postgresql":
        found = await session.execute(
            text("SELECT records_erase(:service, :upto)"), {"service": service, "upto": last.seq}
        )
        if found.scalar_one() != len(erased):
            raise RuntimeError("the chain's head changed while it was being erased")
        return
    await session.execute(
        checkpoints.insert().values(
            service=service, seq=last.seq, hash=last.hash, erased=len(erased), erased_at=now
        )
    )
    head = select(entries.c.entry_id).where(entries.c.service == service, entries.c.seq <= last.seq)
    for table in (entry_subjects, entry_ids):
        await session.execute(delete(table).where(table.c.entry_id.in_(head)))
    await session.execute(
        delete(entries).where(entries.c.service == service, entries.c.seq <= last.seq)
    )
