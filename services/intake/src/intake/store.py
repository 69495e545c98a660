"""Intake's tables: incidents (no personal data beyond what the outbox carries) and DASHes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from shared.tables import platform_tables

metadata = MetaData()
platform = platform_tables(metadata)

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(36), primary_key=True),
    Column("force", String(64), nullable=False),
    Column("control_room_ref", String(64), nullable=False),
    Column("area", String(64), nullable=False),
    Column("victim_key", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("force", "control_room_ref", name="uq_incident_force_ref"),
)

risk_assessments = Table(
    "risk_assessments",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column(
        "incident_id", String(36), ForeignKey("incidents.incident_id"), nullable=False, index=True
    ),
    Column("fingerprint", String(64), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("incident_id", "fingerprint", name="uq_risk_assessment_incident_body"),
)


async def find_by_reference(session: AsyncSession, force: str, ref: str) -> Any | None:
    stmt = select(incidents).where(incidents.c.force == force, incidents.c.control_room_ref == ref)
    return (await session.execute(stmt)).first()


async def find(session: AsyncSession, incident_id: UUID) -> Any | None:
    """The incident with `published` telling whether the relay has sent its event."""
    outbox = platform.outbox
    stmt = (
        select(incidents, outbox.c.published_at)
        .join(outbox, outbox.c.event_id == incidents.c.event_id, isouter=True)
        .where(incidents.c.incident_id == str(incident_id))
    )
    return (await session.execute(stmt)).first()


async def find_assessment(session: AsyncSession, incident_id: UUID, digest: str) -> Any | None:
    """The DASH already accepted for this incident with this very body, if any."""
    stmt = select(risk_assessments).where(
        risk_assessments.c.incident_id == str(incident_id),
        risk_assessments.c.fingerprint == digest,
    )
    return (await session.execute(stmt)).first()
