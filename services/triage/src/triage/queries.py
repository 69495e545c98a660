"""The queries triage needs: locks, incidents, history by pseudonym, decisions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, false, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from triage.domain.history import History, MaracListing, Moment, PastIncident
from triage.domain.identity import Identity
from triage.store import decisions, history, incidents, locks, marac_listings


def utc(moment: datetime) -> datetime:
    """An instant in UTC (SQLite keeps no offset, so every stored time is UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def lock(session: AsyncSession, names: Iterable[str], now: datetime) -> None:
    """Hold these identities until the transaction ends, in sorted order (no deadlocks).

    Two incidents of one person may arrive on different partitions (one with a person
    id, one without): whoever locks second waits, then sees the first one's history.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for name in sorted(set(names)):
        stmt = insert(locks).values(name=name, touched_at=utc(now))
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"], set_={"touched_at": stmt.excluded.touched_at}
            )
        )


def lock_names(incident_id: str, *people: Identity | None) -> list[str]:
    """What to lock for a decision on an incident: it, and its people's hashes."""
    return [f"incident:{incident_id}", *(h for p in people if p for h in p.hashes)]


async def find_incident(session: AsyncSession, incident_id: str) -> Any | None:
    """The incident as accepted, its latest DASH and re-grade, and its place in history."""
    stmt = (
        select(incidents, *(c for c in history.c if c.name != "incident_id"))
        .join(history, history.c.incident_id == incidents.c.incident_id)
        .where(incidents.c.incident_id == incident_id)
    )
    return (await session.execute(stmt)).first()


def record_of(row: Any) -> PastIncident:
    """One history row as the domain sees it."""
    suspect = Identity(row.suspect_pid, row.suspect_ndob)
    return PastIncident(
        incident_id=row.incident_id,
        victim=Identity(row.victim_pid, row.victim_ndob),
        reported_at=utc(row.reported_at),
        seq=int(row.seq),
        suspect=suspect if suspect.hashes else None,
    )


async def add_incident(
    session: AsyncSession,
    incident: dict[str, Any],
    key: str,
    victim: Identity,
    suspect: Identity | None,
    now: datetime,
) -> None:
    """Keep the incident, and its place in the victim's and the suspect's history."""
    incident_id = str(incident["incident_id"])
    await session.execute(
        incidents.insert().values(
            incident_id=incident_id, victim_key=key, incident=incident, received_at=utc(now)
        )
    )
    await session.execute(
        history.insert().values(
            incident_id=incident_id,
            reported_at=utc(datetime.fromisoformat(incident["reported_at"])),
            victim_pid=victim.person_id,
            victim_ndob=victim.names_dob,
            suspect_pid=suspect.person_id if suspect else None,
            suspect_ndob=suspect.names_dob if suspect else None,
        )
    )


async def set_incident(session: AsyncSession, incident_id: str, **values: Any) -> None:
    """Replace the incident's latest DASH or re-grade."""
    stmt = update(incidents).where(incidents.c.incident_id == incident_id).values(**values)
    await session.execute(stmt)


def _matching(pid: Column[Any], ndob: Column[Any], person: Identity | None) -> ColumnElement[bool]:
    conditions = []
    if person and person.person_id:
        conditions.append(pid == person.person_id)
    if person and person.names_dob:
        conditions.append(ndob == person.names_dob)
    return or_(*conditions) if conditions else false()


async def load_history(
    session: AsyncSession, victim: Identity, suspect: Identity | None
) -> History:
    """Every incident of someone who may be this victim or this suspect, and the victim's
    MARAC listings (the domain decides who really matches, and what falls in a window)."""
    c = history.c
    stmt = select(history).where(
        or_(
            _matching(c.victim_pid, c.victim_ndob, victim),
            _matching(c.suspect_pid, c.suspect_ndob, suspect),
        )
    )
    records = [record_of(row) for row in await session.execute(stmt)]
    m = marac_listings.c
    rows = (
        await session.execute(
            select(marac_listings).where(_matching(m.victim_pid, m.victim_ndob, victim))
        )
    ).all()
    listed = {str(i) for row in rows for i in row.incident_ids}
    known: dict[str, Moment] = {}
    if listed:
        for row in await session.execute(select(history).where(c.incident_id.in_(listed))):
            known[row.incident_id] = (utc(row.reported_at), int(row.seq))
    listings = [
        MaracListing(Identity(row.victim_pid, row.victim_ndob), _listing_moment(row, known))
        for row in rows
    ]
    return History(tuple(records), tuple(listings))


def _listing_moment(row: Any, known: dict[str, Moment]) -> Moment:
    """A listing counts from the referral it answers: the earliest of its incidents that
    triage knows, in triage's order; from `listed_at` when it knows none of them."""
    moments = [known[str(i)] for i in row.incident_ids if str(i) in known]
    return min(moments) if moments else (utc(row.listed_at), 0)


async def latest_decision(session: AsyncSession, incident_id: str) -> Any | None:
    """The incident's newest decision row, or None."""
    stmt = (
        select(decisions)
        .where(decisions.c.incident_id == incident_id)
        .order_by(decisions.c.version.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).first()


def referral_rows(decision_row: Any | None) -> Sequence[dict[str, Any]]:
    """The referrals a stored decision made (none before the first decision)."""
    return list(decision_row.decision["referrals"]) if decision_row else []


async def current_decision(session: AsyncSession, incident_id: str) -> dict[str, Any] | None:
    """The latest decision as published (with the incident as accepted), or None."""
    decision = await latest_decision(session, incident_id)
    if decision is None:
        return None
    stmt = select(incidents.c.incident).where(incidents.c.incident_id == incident_id)
    incident = (await session.execute(stmt)).scalar_one()
    return {**decision.decision, "incident": incident}
