"""Kafka -> perpetrators' handlers: triage's decisions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from perpetrators import handlers
from perpetrators.config import Settings
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS

LINGER_MS = 100
"""Perpetrators is off the referral's path: its fetches gather a tenth of a second's
decisions, scored a batch at a time (`ConsumerSpec.linger_ms`)."""


def consumers(platform: Platform[Settings], clock: Callable[[], datetime]) -> list[ConsumerSpec]:
    return [
        ConsumerSpec.of(
            "perpetrators",
            [DECISIONS],
            handlers.EVENTS,
            platform,
            clock,
            prepare=handlers.prepare,
            linger_ms=LINGER_MS,
        )
    ]
