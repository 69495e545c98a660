"""Kafka -> records' handlers: every service's log topic (`mash.audit.<service>.v1`), and
the agencies' referral topics with a consumer group of their own (`disclosures.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from records import disclosures, handlers
from shared.registry import service
from shared.service import ConsumerSpec
from shared.topics import AUDIT_TOPICS

REFERRAL_TOPICS = dict(service("records").groups)[disclosures.GROUP_SUFFIX]
"""The agencies' referral topics, as the registry gives them to this group."""


LINGER_MS = 200
"""Records is off the referral's path: its fetches gather a fifth of a second's entries,
kept a batch at a time (`ConsumerSpec.linger_ms`)."""


def consumers(records: handlers.Records, clock: Callable[[], datetime]) -> list[ConsumerSpec]:
    return [
        ConsumerSpec.of(
            "records", AUDIT_TOPICS, handlers.EVENTS, records, clock, linger_ms=LINGER_MS
        ),
        ConsumerSpec.of(
            "records-disclosures",
            REFERRAL_TOPICS,
            disclosures.DISCLOSURES,
            records,
            clock,
            group_suffix=disclosures.GROUP_SUFFIX,
            linger_ms=LINGER_MS,
        ),
    ]
