"""Intake's queries: incidents by reference or id, and later DASHes.

Returns intake's own records; rows never leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.store import incidents, messages, risk_assessments
from shared.db import utc


@dataclass(frozen=True)
class Incident:
    """An accepted incident as intake keeps it (no personal data: a keyed victim key)."""

    incident_id: UUID
    force: str
    control_room_ref: str
    area: str
    victim_key: str
    fingerprint: str
    event_id: UUID
    received_at: datetime
    trace_id: str | None = None
    """The W3C trace the incident began in (32 hex)."""
    published: bool = False
    """Whether the relay has put its event on Kafka (known only to `find`)."""
    subjects: tuple[str, ...] = ()
    """Every pseudonymous key of its victim, suspect and children (the log names them)."""


# the statements of every report, built once (each call binds its values only)
_BY_REFERENCE = select(incidents).where(
    incidents.c.force == bindparam("force"), incidents.c.control_room_ref == bindparam("ref")
)
_ADD_INCIDENT = incidents.insert()


async def find_by_reference(session: AsyncSession, force: str, ref: str) -> Incident | None:
    row = (await session.execute(_BY_REFERENCE, {"force": force, "ref": ref})).first()
    return _incident(row, published=False) if row else None


async def find(session: AsyncSession, incident_id: UUID) -> Incident | None:
    """The incident, with `published` telling whether the relay has sent its event."""
    outbox = messages.outbox
    stmt = (
        select(incidents, outbox.c.published_at)
        .join(outbox, outbox.c.event_id == incidents.c.event_id, isouter=True)
        .where(incidents.c.incident_id == str(incident_id))
    )
    row = (await session.execute(stmt)).first()
    return _incident(row, published=row.published_at is not None) if row else None


def _incident(r: Any, published: bool) -> Incident:
    return Incident(
        incident_id=UUID(r.incident_id),
        force=r.force,
        control_room_ref=r.control_room_ref,
        area=r.area,
        victim_key=r.victim_key,
        fingerprint=r.fingerprint,
        event_id=UUID(r.event_id),
        received_at=utc(r.received_at),
        trace_id=r.trace_id,
        published=published,
        subjects=tuple(r.subjects or ()),
    )


async def add_incident(session: AsyncSession, incident: Incident) -> None:
    await session.execute(
        _ADD_INCIDENT,
        {
            "incident_id": str(incident.incident_id),
            "force": incident.force,
            "control_room_ref": incident.control_room_ref,
            "area": incident.area,
            "victim_key": incident.victim_key,
            "fingerprint": incident.fingerprint,
            "event_id": str(incident.event_id),
            "received_at": incident.received_at,
            "trace_id": incident.trace_id,
            "subjects": list(incident.subjects),
        },
    )


async def add_risk_assessment(
    session: AsyncSession, event_id: UUID, incident_id: UUID, fingerprint: str, at: datetime
) -> None:
    await session.execute(
        risk_assessments.insert().values(
            event_id=str(event_id),
            incident_id=str(incident_id),
            fingerprint=fingerprint,
            submitted_at=at,
        )
    )


async def find_risk_assessment(
    session: AsyncSession, incident_id: UUID, fingerprint: str
) -> UUID | None:
    """The id of the DASH already accepted for this incident with this very body, if any."""
    stmt = select(risk_assessments.c.event_id).where(
        risk_assessments.c.incident_id == str(incident_id),
        risk_assessments.c.fingerprint == fingerprint,
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    return UUID(found) if found else None
