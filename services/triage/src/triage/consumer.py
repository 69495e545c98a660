"""Kafka -> triage's handlers: incidents and DASHes (mash.incidents.v1) and MARAC listings."""

from __future__ import annotations

from shared.service import ConsumerSpec
from shared.topics import INCIDENTS, MARAC
from triage import handlers


def consumers(triage: handlers.Triage) -> list[ConsumerSpec]:
    return [
        ConsumerSpec.of(
            "triage", [INCIDENTS, MARAC], handlers.EVENTS, triage, prepare=handlers.prepare
        )
    ]
