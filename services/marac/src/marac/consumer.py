"""Kafka -> marac's handlers: triage's decisions, and the equality monitoring intake gives
marac alone; a fetched batch handled as a set (`handlers.prepare`)."""

from __future__ import annotations

from marac import handlers
from marac.config import Settings
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS, INTAKE_EQUALITY


def consumers(platform: Platform[Settings]) -> list[ConsumerSpec]:
    return [
        ConsumerSpec.of(
            "marac",
            [DECISIONS, INTAKE_EQUALITY],
            handlers.EVENTS,
            platform,
            prepare=handlers.prepare,  # a fetched batch's victims read once (`marac.batch`)
        )
    ]
