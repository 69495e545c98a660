"""Kafka -> the console's read model: one declaration of `handlers.EVENTS`."""

from __future__ import annotations

from console import handlers
from console.config import Settings
from shared.service import ConsumerSpec, Platform
from shared.topics import ESCALATIONS, MARAC, REFERRAL_OUTCOMES, SUMMARIES

TOPICS = (SUMMARIES, MARAC, ESCALATIONS, REFERRAL_OUTCOMES)
"""Topics without personal data only (contract section 8): triage's summaries, not its
decisions; escalations (ids and times) for the overdue referrals; never perpetrators."""


def consumers(platform: Platform[Settings]) -> list[ConsumerSpec]:
    return [ConsumerSpec.of("console", TOPICS, handlers.EVENTS, platform)]
