"""What a failure in the consumer means, and the dead-letter topic where poison goes.

Every exception that escapes a handler (or the decoding before it) falls in one of three
kinds, and `classify` is the one place that says which:

- `Failure.POISON`: the message can never be processed (`EnvelopeError`, a payload
  `ValidationError`, `PoisonMessage`): dead-lettered at once, no retries.
- `Failure.OUTAGE`: not the message's fault (`is_transient`: the database or broker is
  unreachable, or the database gave the transaction up in a deadlock): the same record is
  tried again after a pause, for as long as it takes; nothing is dead-lettered.
- `Failure.FAULT`: anything else (a handler bug, a constraint): bounded retries, each in a
  fresh transaction, then dead-lettered.

`shared.kafka.consumer` says where each kind goes on the path from fetch to commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from shared.envelope import EnvelopeError
from shared.kafka.producer import EventProducer
from shared.topics import DEADLETTER


class PoisonMessage(Exception):
    """A message that can never be processed: dead-letter it at once, no retries."""


class Failure(StrEnum):
    """The three kinds of failure, each with its own rule (see the module docstring)."""

    POISON = "poison"
    OUTAGE = "outage"
    FAULT = "fault"


def classify(exc: BaseException) -> Failure:
    """Which kind of failure `exc` is."""
    if isinstance(exc, (EnvelopeError, ValidationError, PoisonMessage)):
        return Failure.POISON
    if is_transient(exc):
        return Failure.OUTAGE
    return Failure.FAULT


RETRY_SQLSTATES = frozenset({"40001", "40P01"})
"""PostgreSQL's serialization failure and deadlock: the database gave up the transaction
so that another could go on; the same work succeeds when run again."""


def _sqlstate(exc: DBAPIError) -> str | None:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return str(code) if code else None


def is_transient(exc: BaseException) -> bool:
    """An outage (retry the same message until it passes), or the database giving up a
    transaction so that another could go on (a deadlock): not a fault of the message.

    A data error from the database (a value too long, a constraint) is the message's
    fault: it gets bounded retries and the dead-letter topic, never an endless loop.
    """
    if isinstance(exc, DBAPIError):
        return (
            exc.connection_invalidated
            or isinstance(exc, (OperationalError, InterfaceError))
            or _sqlstate(exc) in RETRY_SQLSTATES
        )
    return isinstance(exc, (ConnectionError, TimeoutError, OSError, KafkaError))


def describe(exc: BaseException) -> str:
    """An error description safe for headers and logs: never the offending values."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}" for e in exc.errors()[:10]]
        return f"ValidationError: {'; '.join(parts)}"
    if isinstance(exc, (EnvelopeError, PoisonMessage)):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def dead_letter_headers(
    record: ConsumerRecord, exc: BaseException, group: str, at: datetime
) -> list[tuple[str, bytes]]:
    """The record's own headers (less an earlier dead-lettering's) and where it came from,
    what went wrong (described, never the values) and which group gave up on it."""
    return [
        *((k, v) for k, v in (record.headers or ()) if not k.startswith("mash_dlq_")),
        ("mash_dlq_error", describe(exc).encode()),
        ("mash_dlq_origin_topic", record.topic.encode()),
        ("mash_dlq_origin_partition", str(record.partition).encode()),
        ("mash_dlq_origin_offset", str(record.offset).encode()),
        ("mash_dlq_consumer_group", group.encode()),
        ("mash_dlq_at", at.isoformat().encode()),
    ]


async def dead_letter(
    producer: EventProducer, record: ConsumerRecord, exc: BaseException, group: str
) -> None:
    """Send the original message, bytes untouched, to the dead-letter topic. A failure to
    send raises (an outage): the record is then tried again, never silently dropped."""
    headers = dead_letter_headers(record, exc, group, datetime.now(UTC))
    await producer.send_raw(DEADLETTER, record.value, record.key, headers)
