"""Kafka -> marac's handlers: triage's decisions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from marac import handlers
from shared.envelope import CloudEvent
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS


def consumers(platform: Platform) -> list[ConsumerSpec]:
    async def decided(session: AsyncSession, event: CloudEvent) -> None:
        await handlers.on_decision(platform, session, event, datetime.now(UTC))

    return [ConsumerSpec("marac", [DECISIONS], decided)]
