"""Kafka -> notify's handlers: triage's decisions become referrals."""

from __future__ import annotations

from notify import handlers
from notify.config import Settings
from notify.metrics import ReferralMetrics
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS


def consumers(
    platform: Platform, settings: Settings, metrics: ReferralMetrics
) -> list[ConsumerSpec]:
    handler = handlers.on_decision(platform, settings, metrics)
    return [ConsumerSpec("notify", [DECISIONS], handler)]
