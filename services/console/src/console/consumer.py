"""Kafka -> the console's read model: every event type in `handlers.HANDLERS`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from console.handlers import HANDLERS
from shared.envelope import CloudEvent
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS, ESCALATIONS, MARAC, PERPETRATORS

TOPICS = (DECISIONS, MARAC, ESCALATIONS, PERPETRATORS)


def consumers(platform: Platform) -> list[ConsumerSpec]:
    """One consumer: each event's data validated with its model (a failure is poison,
    dead-lettered), then its handler; types not in the table are skipped."""

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        if entry := HANDLERS.get(event.type):
            model, handler = entry
            data = model.model_validate(event.data)
            await handler(platform, session, data, event, datetime.now(UTC))

    return [ConsumerSpec("console", TOPICS, handle)]
