"""Kafka -> the console's read model: one declaration of `handlers.EVENTS`."""

from __future__ import annotations

from console import handlers
from console.config import Settings
from shared.service import ConsumerSpec, Platform
from shared.topics import MARAC, REFERRAL_OUTCOMES, SUMMARIES

TOPICS = (SUMMARIES, MARAC, REFERRAL_OUTCOMES)
"""Topics without personal data only (contract section 8): triage's summaries, not its
decisions; marac's events (ids, dates, agencies); notify's outcomes, whose `due_by`
tells which referrals are overdue. Never the escalations, perpetrators or referrals."""


def consumers(platform: Platform[Settings]) -> list[ConsumerSpec]:
    return [ConsumerSpec.of("console", TOPICS, handlers.EVENTS, platform)]
