"""Notify's event handlers: load, call the domain, save, emit."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from notify import store
from shared.envelope import CloudEvent


async def record_received(session: AsyncSession, event: CloudEvent) -> None:
    """Note that an event arrived (its id, type and subject: no personal data)."""
    await session.execute(
        store.received.insert().values(
            event_id=event.id,
            type=event.type,
            subject=event.subject,
            received_at=datetime.now(UTC),
        )
    )
