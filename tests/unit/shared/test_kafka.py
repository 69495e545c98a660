"""The consumer's decisions that need no broker: the handler table, and which kind each
failure is (it decides between retrying, dead-lettering and waiting out an outage)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.envelope import CloudEvent, EnvelopeError
from shared.kafka import EventTable, Failure, On, PoisonMessage, classify, dispatch
from shared.kafka.failures import dead_letter_headers

NOON = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class Ping(BaseModel):
    n: int


def event(type_: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(id="e1", source="/mash/test", type=type_, subject="s", data=data)


async def test_the_table_validates_the_data_and_hands_the_handler_its_clock() -> None:
    seen: list[tuple[str, Ping, datetime]] = []

    async def on_ping(
        context: str, session: AsyncSession, ping: Ping, ev: CloudEvent, now: datetime
    ) -> None:
        seen.append((context, ping, now))

    table: EventTable[str] = {"mash.test.ping": On(Ping, on_ping)}
    handle = dispatch(table, "ctx", clock=lambda: NOON)
    session: Any = None  # the handler here never touches it
    await handle(session, event("mash.test.other", {"n": "not a number"}))  # not its business
    await handle(session, event("mash.test.ping", {"n": 3}))
    assert seen == [("ctx", Ping(n=3), NOON)]
    with pytest.raises(ValidationError):
        await handle(session, event("mash.test.ping", {"n": "x"}))


def _validation_error() -> ValidationError:
    try:
        Ping.model_validate({"n": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError("validated")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (EnvelopeError("no ce_id"), Failure.POISON),
        (_validation_error(), Failure.POISON),
        (PoisonMessage("never"), Failure.POISON),
        (OperationalError("x", {}, Exception("database is locked")), Failure.OUTAGE),
        (ConnectionRefusedError(), Failure.OUTAGE),
        (TimeoutError(), Failure.OUTAGE),
        (IntegrityError("x", {}, Exception("duplicate")), Failure.FAULT),
        (RuntimeError("a handler bug"), Failure.FAULT),
    ],
)
def test_each_failure_has_one_kind(exc: BaseException, kind: Failure) -> None:
    assert classify(exc) is kind


def test_a_dead_letter_names_its_origin_and_error_but_no_value() -> None:
    record = ConsumerRecord(
        topic="mash.incidents.v1",
        partition=2,
        offset=41,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"{}",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=2,
        headers=[("ce_id", b"e1"), ("mash_dlq_error", b"an earlier one")],
    )
    headers = dead_letter_headers(record, RuntimeError("victim Secretname"), "mash-triage", NOON)
    assert headers == [
        ("ce_id", b"e1"),
        ("mash_dlq_error", b"RuntimeError"),
        ("mash_dlq_origin_topic", b"mash.incidents.v1"),
        ("mash_dlq_origin_partition", b"2"),
        ("mash_dlq_origin_offset", b"41"),
        ("mash_dlq_consumer_group", b"mash-triage"),
        ("mash_dlq_at", NOON.isoformat().encode()),
    ]
