"""Kafka -> marac's handlers: triage's decisions, and the equality monitoring intake gives
marac alone; a fetched batch handled as a set (`handlers.prepare`)."""

from __future__ import annotations

from marac import handlers
from marac.config import Settings
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS, INTAKE_EQUALITY

LINGER_MS = 100
"""Marac is off the referral's path: its fetches gather a tenth of a second's decisions,
listed a batch at a time (`ConsumerSpec.linger_ms`)."""


def consumers(platform: Platform[Settings]) -> list[ConsumerSpec]:
    return [
        ConsumerSpec.of(
            "marac",
            [DECISIONS, INTAKE_EQUALITY],
            handlers.EVENTS,
            platform,
            prepare=handlers.prepare,  # a fetched batch's victims read once (`marac.batch`)
            linger_ms=LINGER_MS,
        )
    ]
