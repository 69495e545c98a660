"""Kafka -> perpetrators' handlers: triage's decisions, dispatched from `HANDLERS`.

`dispatch` is a small adapter until the shared consumer loop dispatches a handler table
itself: it validates the event's data with the table's model and calls its handler.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from perpetrators.handlers import HANDLERS
from shared.envelope import CloudEvent
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS


def consumers(platform: Platform, clock: Callable[[], datetime]) -> list[ConsumerSpec]:
    async def dispatch(session: AsyncSession, event: CloudEvent) -> None:
        entry = HANDLERS.get(event.type)
        if entry is None:
            return  # another type on the topic: not ours
        model, handler = entry
        await handler(platform, session, model.model_validate(event.data), clock())

    return [ConsumerSpec("perpetrators", [DECISIONS], dispatch)]
