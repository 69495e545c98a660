"""Kafka -> records' handlers: every service's log topic (`mash.audit.<service>.v1`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from records import handlers
from shared.service import ConsumerSpec
from shared.topics import AUDIT_TOPICS


def consumers(records: handlers.Records, clock: Callable[[], datetime]) -> list[ConsumerSpec]:
    return [ConsumerSpec.of("records", AUDIT_TOPICS, handlers.EVENTS, records, clock)]
