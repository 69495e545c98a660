"""Helpers of the set-wise tests (issue 23): one consumer loop's records handed in by the
test, as a fetched batch (`ConsumerLoop.process_batch`) on one side and one record per
transaction (`ConsumerLoop.process`) on the other, in two databases, compared after."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import event as sa_event

from mash_tools.testing import TopicReader, create_database, headers_of
from shared.envelope import CloudEvent
from shared.kafka import ConsumerLoop
from shared.kafka.table import Handler
from shared.service import Platform
from shared.topics import AUDIT_PREFIX

Stream = list[tuple[CloudEvent, str]]


def ticking(start: datetime) -> Callable[[], datetime]:
    """A clock a millisecond later each time it is read: each handled event its own time,
    the same on both sides when they handle the same events in the same order."""
    ticks = itertools.count()
    return lambda: start + timedelta(milliseconds=next(ticks))


async def second_database(database_url: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    """A database of the same backend as `database_url`, fresh."""
    if database_url.startswith("postgresql"):
        return await create_database(request.getfixturevalue("postgres_server"))
    return f"sqlite+aiosqlite:///{tmp / 'one-by-one.db'}"


def record_of(event: CloudEvent, topic: str, offset: int, key: str | None) -> Any:
    """An event as the loop fetches it: on partition 0 of `topic`, at `offset`."""
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key.encode() if key is not None else None,
        value=event.value(),
        checksum=None,
        serialized_key_size=len(key) if key is not None else 0,
        serialized_value_size=len(event.value()),
        headers=event.headers(),
    )


def as_records(events: Stream, first_offset: int = 0) -> list[Any]:
    """The events as the loop fetches them, each keyed by its subject: partition 0 of each
    topic, offsets in order."""
    return [
        record_of(event, topic, first_offset + n, event.subject or None)
        for n, (event, topic) in enumerate(events)
    ]


def loop_of(
    platform: Platform[Any], topics: Sequence[str], handler: Handler, bootstrap: str, group: str
) -> ConsumerLoop:
    """The consumer loop `Platform.start` makes, not started: the test hands it records."""
    return ConsumerLoop(
        name=platform.name,
        topics=list(topics),
        group_id=group,
        bootstrap=bootstrap,
        handler=handler,
        unit_of_work=platform.uow,
        tables=platform.tables,
        producer=platform.producer,
        metrics=platform.metrics,
        tracer=platform.tracer,
        retry_seconds=0.01,
    )


async def one_by_one(loop: ConsumerLoop, records: list[Any]) -> None:
    """Each record in a transaction of its own, as the loop does after a batch failed."""
    for record in records:
        await loop.process(record)


def decision_poisoned(good: CloudEvent) -> CloudEvent:
    """A copy of the decision `good` under a new id, with a risk level that is none: poison
    (its payload fails validation)."""
    data = {**good.data, "risk_level": "catastrophic"}
    return CloudEvent(str(uuid.uuid4()), good.source, good.type, good.subject, data)


@contextmanager
def counted(platform: Platform[Any]) -> Iterator[list[str]]:
    """The statements the platform's database runs meanwhile (an executemany counts once):
    a count, not a time, shows what a batch saves."""
    found: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        found.append(statement)

    engine = platform.engine.sync_engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield found
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


async def dead_lettered_alone(
    dlq: TopicReader, poison_id: str, records: list[Any], error: str
) -> None:
    """The poison (`error` its kind) is on the dead-letter topic, and of `records` it alone,
    once."""
    dead = await dlq.wait_for(lambda r: headers_of(r).get("ce_id") == poison_id)
    assert headers_of(dead)["mash_dlq_error"].startswith(error)
    ours = {headers_of(r)["ce_id"] for r in records}
    await dlq.poll()
    dead_ours = [headers_of(r).get("ce_id") for r in dlq.records]
    assert [i for i in dead_ours if i in ours] == [poison_id]  # alone, once


_TRACE = {"traceparent", "tracestate"}


def outbox_row(row: Any, random_ids: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """An outbox row as the relay publishes it: topic, key, headers, payload; the trace
    headers left out, and so are the event ids made at random (`uuid4`): a log entry's
    (`shared.audit`), and those of the topics in `random_ids`."""
    payload = json.loads(row.payload)
    headers = {k: v for k, v in row.headers.items() if k not in _TRACE}
    if row.topic.startswith(AUDIT_PREFIX):
        payload.pop("entry_id")
        headers.pop("ce_id")
    elif row.topic in random_ids:
        headers.pop("ce_id")
    return row.topic, row.key, headers, payload
