"""Kafka -> the console's read model: every event type in `handlers.HANDLERS`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from console.handlers import HANDLERS
from shared.envelope import CloudEvent
from shared.service import ConsumerSpec
from shared.topics import DECISIONS, ESCALATIONS, MARAC, PERPETRATORS

TOPICS = (DECISIONS, MARAC, ESCALATIONS, PERPETRATORS)


async def handle(session: AsyncSession, event: CloudEvent) -> None:
    """Validate the event's data with its model and hand it to its handler (others: skip)."""
    if entry := HANDLERS.get(event.type):
        model, handler = entry
        await handler(session, event, model.model_validate(event.data))


CONSUMERS = [ConsumerSpec("console", TOPICS, handle)]
