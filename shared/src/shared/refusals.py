"""Which failures to publish an outbox row are the row's own fault, and the dead letter it becomes.

The relay publishes rows in order. A row the broker refuses for good (too large, an invalid
record) would be refused again at every retry and hold back every later row: that row goes
to `mash.deadletter.v1` instead. An outage (broker unreachable, a timeout, a leader moving,
an authorisation or producer-state fault that a person or a restart fixes) is never the
row's fault: its rows wait and are retried, never dead-lettered; a relay that stays stuck
shows on `/readyz`.

The classification is an allow-list: an error not named here is an outage.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnknownError,
    UnsupportedForMessageFormatError,
)

from shared.kafka.failures import describe

Verdict = Literal["refused", "suspect", "outage"]

TOO_LARGE: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
)
"""The record is larger than the producer or the broker takes."""

REFUSED: tuple[type[BaseException], ...] = (
    *TOO_LARGE,
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    UnsupportedForMessageFormatError,
)
"""The broker (or the producer, before sending) refuses this record itself, for good."""

SUSPECT: tuple[type[BaseException], ...] = (UnknownError,)
"""Maybe the record, maybe the broker: aiokafka names every error code it does not know
(INVALID_RECORD, 87, among them) `UnknownError`, as it does the broker's own unknown
server error. Such a row is dead-lettered only after failing alone several times."""


def verdict(exc: BaseException) -> Verdict:
    """`refused`: the row's fault, for good; `suspect`: retry it alone before deciding;
    `outage`: not the row's fault, retry it as it is."""
    if isinstance(exc, REFUSED):
        return "refused"
    if isinstance(exc, SUSPECT):
        return "suspect"
    if isinstance(exc, UnicodeError):
        return "refused"  # the row's payload cannot even be encoded
    return "outage"


def dead_letter_headers(
    headers: dict[str, str], exc: BaseException, topic: str, event_id: str, service: str
) -> dict[str, str]:
    """The row's own headers plus the error and origin headers of the consumer's dead
    letters (`mash_dlq_*`), naming the row's topic and event id, and the relay that gave up.
    No partition or offset: the row never reached its topic."""
    kept = {k: v for k, v in headers.items() if not k.startswith("mash_dlq_")}
    return {
        **kept,
        "mash_dlq_error": describe(exc),
        "mash_dlq_origin_topic": topic,
        "mash_dlq_origin_event_id": event_id,
        "mash_dlq_relay": service,
        "mash_dlq_at": datetime.now(UTC).isoformat(),
    }


def stub(topic: str, event_id: str, size: int, exc: BaseException) -> bytes:
    """What a dead letter carries instead of a payload too large (or not encodable) to
    travel: enough to find the row and its cause, nothing of the data."""
    return json.dumps(
        {
            "dead_letter": "payload not carried",
            "reason": describe(exc),
            "origin_topic": topic,
            "event_id": event_id,
            "payload_chars": size,
        }
    ).encode()


def carries_payload(exc: BaseException) -> bool:
    """Whether the dead letter can carry the original payload."""
    return not isinstance(exc, (*TOO_LARGE, UnicodeError))
