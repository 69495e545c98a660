"""Kafka -> the console's read model: one declaration of `handlers.EVENTS`."""

from __future__ import annotations

from console import handlers
from console.config import Settings
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS, ESCALATIONS, MARAC, PERPETRATORS, REFERRAL_OUTCOMES

TOPICS = (DECISIONS, MARAC, ESCALATIONS, PERPETRATORS, REFERRAL_OUTCOMES)


def consumers(platform: Platform[Settings]) -> list[ConsumerSpec]:
    return [ConsumerSpec.of("console", TOPICS, handlers.EVENTS, platform)]
