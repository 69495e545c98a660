"""Kafka -> triage's handlers: thin."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared.envelope import CloudEvent
from shared.service import ConsumerSpec
from shared.topics import INCIDENTS, MARAC
from triage import handlers
from triage.deciding import Triage


def consumers(triage: Triage) -> list[ConsumerSpec]:
    """One consumer for incidents and DASHes (mash.incidents.v1) and MARAC listings."""

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        handler = handlers.EVENT_HANDLERS.get(event.type)
        if handler is not None:  # other types are not triage's business
            await handler(triage, session, event, datetime.now(UTC))

    return [ConsumerSpec("triage", [INCIDENTS, MARAC], handle)]
