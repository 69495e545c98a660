"""Kafka -> notify's handlers: triage's decisions, and the agencies' MARAC referrals the
IDVA service is to be told of, become referrals."""

from __future__ import annotations

from notify import handlers
from shared.service import ConsumerSpec
from shared.topics import DECISIONS, MARAC_IDVA_REFERRALS


def consumers(notify: handlers.Notify) -> list[ConsumerSpec]:
    return [ConsumerSpec.of("notify", [DECISIONS, MARAC_IDVA_REFERRALS], handlers.EVENTS, notify)]
