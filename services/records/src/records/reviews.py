"""The reads behind a review's chronology (contract 12): a page of a person's events,
derived from their log entries, and a page of what one agency had been sent by a moment,
from the records kept as disclosed. Each page is logged as `consulted` (resource
`records`) in the transaction that read it, before it is answered."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from records import disclosures, repository
from records.disclosures import Disclosure
from records.domain.chain import Record, instant
from records.domain.chronology import Event, Known, event_of
from records.repository import Filters, Position
from records.schemas import cell
from records.store import entries, entry_subjects
from shared.audit import Item, ReadAudit
from shared.service import Platform

BATCH = 500
"""Entries read at a time while filling a page (some entries are no event)."""


@dataclass(frozen=True)
class Step:
    """One event of the chronology and where its entry sits (the page's cursor)."""

    position: Position
    record: Record
    event: Event


async def known_of(session: AsyncSession, keys: Sequence[str]) -> Known:
    """What the person's disclosures say of their referrals (each one's agency)."""
    about = select(entry_subjects.c.entry_id).where(entry_subjects.c.subject.in_(keys))
    found = await session.execute(
        select(entries).where(
            entries.c.entry_id.in_(about),
            entries.c.service == "notify",
            entries.c.operation == "disclosed",
        )
    )
    return Known.of(repository.record_of_row(r) for r in found)


async def _steps(
    session: AsyncSession, keys: Sequence[str], after: Position | None, fetch: int
) -> list[Step]:
    known = await known_of(session, keys)
    steps: list[Step] = []
    while len(steps) < fetch:
        rows = await repository.listed(session, Filters(subjects=tuple(keys)), after, BATCH)
        for row in rows:
            event = event_of(row.record, known)
            if event is not None:
                steps.append(Step(row.position, row.record, event))
                if len(steps) == fetch:
                    break
        if len(rows) < BATCH:
            break
        after = rows[-1].position
    return steps


async def read_events(
    platform: Platform[Any],
    audit: ReadAudit,
    keys: Sequence[str],
    after: Position | None,
    limit: int,
    fetch: int,
) -> list[Step]:
    """Up to `fetch` events after `after`; the first `limit` (the page) logged."""
    async with platform.uow() as session:
        steps = await _steps(session, keys, after, fetch)
        read = [Item(s.record.entry_id, s.record.subjects) for s in steps[:limit]]
        await audit.record(session, "records", read, subjects=keys)
    return steps


async def read_received(
    platform: Platform[Any],
    audit: ReadAudit,
    keys: Sequence[str],
    agency: str,
    as_of: datetime,
    after: tuple[datetime, int] | None,
    limit: int,
    fetch: int,
) -> list[Disclosure]:
    """Up to `fetch` records sent to `agency` by `as_of`; the first `limit` logged (ids:
    the referral ids, this answer being the records themselves)."""
    async with platform.uow() as session:
        found = await disclosures.received(session, agency, keys, as_of, after, fetch)
        shown = found[:limit]
        about = await disclosures.people(session, [d.referral_id for d in shown])
        read = [Item(d.referral_id, about[d.referral_id]) for d in shown]
        await audit.record(session, "records", read, subjects=keys)
    return found


def records_json(found: Iterable[Disclosure]) -> bytes:
    """A JSON array of the records exactly as their topic carried them (each value's
    text, unchanged)."""
    return b"[" + b",".join(d.record.encode("utf-8") for d in found) + b"]"


def event_json(event: Event) -> dict[str, object]:
    return {
        "at": instant(event.at),
        "agency": event.agency,
        "event": event.event,
        "ids": list(event.ids),
        "summary": event.summary,
    }


EVENT_COLUMNS = ("at", "agency", "event", "ids", "summary")
RECEIVED_COLUMNS = ("disclosed_at", "agency", "referral_id", "incident_id", "record")


def _csv(rows: Iterable[Sequence[str]], header: Sequence[str] | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def events_csv(events: Iterable[Event], header: bool = False) -> str:
    rows = (
        [instant(e.at), cell(e.agency), e.event, cell(" ".join(e.ids)), cell(e.summary)]
        for e in events
    )
    return _csv(rows, EVENT_COLUMNS if header else None)


def received_csv(found: Iterable[Disclosure], header: bool = False) -> str:
    """The records as sent, one a line: the record column holds its JSON text unchanged."""
    rows = (
        [instant(d.disclosed_at), d.agency, d.referral_id, d.incident_id, cell(d.record)]
        for d in found
    )
    return _csv(rows, RECEIVED_COLUMNS if header else None)
