"""Kafka -> notify's handlers."""

from __future__ import annotations

from notify import handlers
from shared.service import ConsumerSpec
from shared.topics import DECISIONS


def consumers() -> list[ConsumerSpec]:
    return [ConsumerSpec("notify", [DECISIONS], handlers.record_received)]
