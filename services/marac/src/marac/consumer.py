"""Kafka -> marac's handlers."""

from __future__ import annotations

from marac import handlers
from shared.service import ConsumerSpec
from shared.topics import DECISIONS


def consumers() -> list[ConsumerSpec]:
    return [ConsumerSpec("marac", [DECISIONS], handlers.record_received)]
