"""Kafka -> notify's handlers: triage's decisions become referrals."""

from __future__ import annotations

from notify import handlers
from notify.config import Settings
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS


def consumers(platform: Platform, settings: Settings) -> list[ConsumerSpec]:
    return [ConsumerSpec("notify", [DECISIONS], handlers.on_decision(platform, settings))]
