"""Kafka -> marac's handlers: triage's decisions."""

from __future__ import annotations

from marac import handlers
from marac.config import Settings
from shared.service import ConsumerSpec, Platform
from shared.topics import DECISIONS


def consumers(platform: Platform[Settings]) -> list[ConsumerSpec]:
    return [ConsumerSpec.of("marac", [DECISIONS], handlers.EVENTS, platform)]
