"""Kafka -> triage's handlers."""

from __future__ import annotations

from shared.service import ConsumerSpec
from shared.topics import INCIDENTS, MARAC
from triage import handlers


def consumers() -> list[ConsumerSpec]:
    return [ConsumerSpec("triage", [INCIDENTS, MARAC], handlers.record_received)]
