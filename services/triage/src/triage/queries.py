"""The queries triage needs: locks, incidents and decisions (history: `histories`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert, utc
from shared.schemas import IncidentReported
from triage.domain.history import PastIncident
from triage.domain.identity import Identity
from triage.store import decisions, history, incidents, locks


async def lock(session: AsyncSession, names: Iterable[str], now: datetime) -> None:
    """Hold these identities until the transaction ends, in sorted order (no deadlocks).

    Two incidents of one person may arrive on different partitions (one with a person
    id, one without): whoever locks second waits, then sees the first one's history.
    """
    for name in sorted(set(names)):
        stmt = insert(session, locks).values(name=name, touched_at=utc(now))
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
    incident: IncidentReported,
    key: str,
    victim: Identity,
    suspect: Identity | None,
    now: datetime,
) -> None:
    """Keep the incident (with its DASH, if it came with one), and its place in the
    victim's and the suspect's history."""
    incident_id = str(incident.incident_id)
    data = incident.model_dump(mode="json")
    await session.execute(
        incidents.insert().values(
            incident_id=incident_id,
            victim_key=key,
            incident=data,
            dash=data["dash"],
            received_at=utc(now),
        )
    )
    await session.execute(
        history.insert().values(
            incident_id=incident_id,
            reported_at=utc(incident.reported_at),
            victim_pid=victim.person_id,
            victim_ndob=victim.names_dob,
            suspect_pid=suspect.person_id if suspect else None,
            suspect_ndob=suspect.names_dob if suspect else None,
        )
    )


async def history_of(session: AsyncSession, incident_ids: Sequence[str]) -> list[Any]:
    """The history rows of these incidents (those triage knows)."""
    if not incident_ids:
        return []
    stmt = select(history).where(history.c.incident_id.in_(list(incident_ids)))
    return list((await session.execute(stmt)).all())


async def set_incident(session: AsyncSession, incident_id: str, **values: Any) -> None:
    """Replace the incident's latest DASH or re-grade."""
    stmt = update(incidents).where(incidents.c.incident_id == incident_id).values(**values)
    await session.execute(stmt)


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
