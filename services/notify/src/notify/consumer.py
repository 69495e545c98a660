"""Kafka -> notify's handlers: triage's decisions become referrals."""

from __future__ import annotations

from notify import handlers
from shared.service import ConsumerSpec
from shared.topics import DECISIONS


def consumers(notify: handlers.Notify) -> list[ConsumerSpec]:
    return [ConsumerSpec.of("notify", [DECISIONS], handlers.EVENTS, notify)]
