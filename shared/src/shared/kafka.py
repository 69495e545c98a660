"""Kafka: an idempotent producer and a consumer loop that never loses or repeats work.

The loop processes each fetched batch inside one transaction of the service's own:
it records every `ce_id` in the inbox in that same transaction (so a redelivery is
skipped), runs the handlers, and commits the offsets only afterwards. When a batch
fails it falls back to one message per transaction, so a message it cannot decode or
process is isolated and, after bounded retries, sent alone to the dead-letter topic
with its origin and error in headers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, KafkaError
from opentelemetry.trace import SpanKind, Tracer
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import envelope
from shared.db import insert
from shared.envelope import CloudEvent, EnvelopeError
from shared.metrics import Metrics
from shared.tables import PlatformTables
from shared.telemetry import INCIDENT_ID, extract_context
from shared.topics import DEADLETTER

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
"""What the loop calls for each new event, inside its transaction (see `dispatch`)."""
UnitOfWork = Callable[[], Any]  # () -> async context manager yielding a session

Context = TypeVar("Context")
Payload = TypeVar("Payload", bound=BaseModel)


@dataclass(frozen=True)
class On(Generic[Context, Payload]):
    """One row of a consumer's table: an event's data is validated as `payload`, then
    `handler(context, session, data, event, now)` runs in the event's transaction.

    A payload that fails validation is poison: it goes to the dead-letter topic at once.
    """

    payload: type[Payload]
    handler: Callable[[Context, AsyncSession, Payload, CloudEvent, datetime], Awaitable[None]]


EventTable = Mapping[str, On[Context, Any]]
"""A consumer's handlers: event type -> (payload model, handler). Types not in the table
are not the consumer's business and are skipped (they still pass through the inbox)."""


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def dispatch(
    table: EventTable[Context], context: Context, clock: Callable[[], datetime] = utc_now
) -> Handler:
    """The loop's handler for a table: look the type up, validate the data, call the row's
    handler with `context` and the time of processing (`clock()`, which handlers pass on)."""

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        on = table.get(event.type)
        if on is None:
            return
        # validated from the bytes as received (pydantic parses and validates in one
        # pass: about a third cheaper than validating the dict `parse` made); an event
        # made here, without them, from its data. ValidationError: dead-lettered
        raw = event.raw
        data = on.payload.model_validate_json(raw) if raw else on.payload.model_validate(event.data)
        await on.handler(context, session, data, event, clock())

    return handle


class PoisonMessage(Exception):
    """A message that can never be processed: dead-letter it at once, no retries."""


class EventProducer:
    """aiokafka's producer, idempotent with acks=all, recreated when it gets stuck."""

    def __init__(
        self, bootstrap: str, client_id: str, security: Mapping[str, Any] | None = None
    ) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._security = dict(security or {})
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            # no lingering: the relay queues a whole batch before the sender runs, so
            # batches form anyway, and an idle hop is not held back
            linger_ms=0,
            request_timeout_ms=15000,
            **self._security,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer:
            await self._producer.stop()
            self._producer = None

    async def restart(self) -> None:
        """Replace the producer (aiokafka's idempotent producer can stick after a broker blip)."""
        try:
            await self.stop()
        except Exception:  # noqa: BLE001 - a stuck producer may fail to stop cleanly
            self._producer = None
        await self.start()

    async def send(
        self, topic: str, value: bytes, key: str | None, headers: dict[str, str]
    ) -> asyncio.Future[Any]:
        """Queue one message; await the returned future for the broker's acknowledgement."""
        if self._producer is None:
            raise KafkaError("producer not started")
        return await self._producer.send(  # type: ignore[no-any-return]
            topic,
            value=value,
            key=key.encode() if key else None,
            headers=[(k, v.encode()) for k, v in headers.items()],
        )

    async def send_raw(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        if self._producer is None:
            raise KafkaError("producer not started")
        await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)

    async def ping(self) -> bool:
        """True when the broker answers a metadata request."""
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), 3)
        except Exception:  # noqa: BLE001 - readiness reports any failure as not ready
            return False
        return True


async def enter_inbox(
    session: AsyncSession, tables: PlatformTables, event: CloudEvent, topic: str
) -> bool:
    """Record `event` in the inbox; False when it was processed before (a redelivery)."""
    result = await session.execute(
        insert(session, tables.inbox)
        .values(
            event_id=event.id,
            topic=topic,
            type=event.type,
            subject=event.subject,
            processed_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return bool(getattr(result, "rowcount", 0))


async def enter_inbox_many(
    session: AsyncSession, tables: PlatformTables, entries: Sequence[tuple[CloudEvent, str]]
) -> list[bool]:
    """Record many `(event, topic)` in the inbox in one statement; for each, whether it is
    new (False: processed before, or an earlier entry of this same batch has its id)."""
    first: dict[str, int] = {}
    for i, (event, _) in enumerate(entries):
        first.setdefault(event.id, i)
    if not first:
        return []
    now = datetime.now(UTC)
    rows = [
        {
            "event_id": event.id,
            "topic": topic,
            "type": event.type,
            "subject": event.subject,
            "processed_at": now,
        }
        for event, topic in (entries[i] for i in first.values())
    ]
    inbox = tables.inbox
    result = await session.execute(
        insert(session, inbox)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(inbox.c.event_id)
    )
    new = set(result.scalars().all())
    return [first[event.id] == i and event.id in new for i, (event, _) in enumerate(entries)]


def describe(exc: BaseException) -> str:
    """An error description safe for headers and logs: never the offending values."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}" for e in exc.errors()[:10]]
        return f"ValidationError: {'; '.join(parts)}"
    if isinstance(exc, (EnvelopeError, PoisonMessage)):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


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


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits what was processed before partitions move to another consumer.

    No lock is shared with the loop (aiokafka deadlocks on one): the loop only records
    processed offsets, and the commit here takes what is recorded.
    """

    def __init__(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if self._loop._consumer is not None:  # noqa: SLF001 - the listener is part of the loop
            await self._loop._commit(self._loop._consumer, list(revoked))  # noqa: SLF001

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class ConsumerLoop:
    """Consumes `topics` as `group_id`, a fetched batch per transaction, in order per partition.

    A batch (up to `max_batch` records, from the partitions the fetch returned) runs in
    one transaction: inbox rows, handlers, outbox rows; its offsets are committed after.
    If the batch fails for a reason other than an outage, its records are processed
    again one per transaction (`process`), which isolates and dead-letters a poison one.
    """

    def __init__(
        self,
        *,
        name: str,
        topics: Sequence[str],
        group_id: str,
        bootstrap: str,
        handler: Handler,
        unit_of_work: UnitOfWork,
        tables: PlatformTables,
        producer: EventProducer,
        metrics: Metrics,
        tracer: Tracer,
        max_attempts: int = 3,
        retry_seconds: float = 0.2,
        offset_reset: str = "earliest",
        security: Mapping[str, Any] | None = None,
        max_batch: int = 500,
        fetch_max_wait_ms: int = 100,
    ) -> None:
        self.name = name
        self._max_batch = max_batch
        self._fetch_wait = fetch_max_wait_ms
        self._security = dict(security or {})
        self._topics = list(topics)
        self._group = group_id
        self._bootstrap = bootstrap
        self._handler = handler
        self._uow = unit_of_work
        self._tables = tables
        self._producer = producer
        self._metrics = metrics
        self._tracer = tracer
        self._max_attempts = max_attempts
        self._retry = retry_seconds
        self._offset_reset = offset_reset
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._processed: dict[TopicPartition, int] = {}
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            client_id=f"{self._group}-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset=self._offset_reset,
            # the broker answers a fetch as soon as one record is there (fetch_min_bytes=1),
            # so this wait adds no latency: it only spaces out the idle polls
            fetch_max_wait_ms=self._fetch_wait,
            max_partition_fetch_bytes=4 * 1048576,
            max_poll_interval_ms=600000,
            **self._security,
        )
        for topic in self._topics:  # at 0 from the start: alerts see the first dead letter
            self._metrics.deadlettered.labels(topic)
        self._consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
        await self._consumer.start()
        await self._await_assignment(self._consumer)
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.name}")

    @staticmethod
    async def _await_assignment(consumer: AIOKafkaConsumer, timeout: float = 60) -> None:
        """Wait until the group has given us partitions and our positions are fixed."""
        async with asyncio.timeout(timeout):
            while not consumer.assignment():
                await asyncio.sleep(0.05)
        for tp in consumer.assignment():
            await consumer.position(tp)

    async def stop(self) -> None:
        # the flag ends the loop even if a library swallows the cancellation
        self._stopping = True
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while not self._stopping:
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=self._max_batch)
            except KafkaError as exc:
                log.warning("%s: fetch failed: %s", self.name, type(exc).__name__)
                await asyncio.sleep(1)
                continue
            if batches:
                await self._consume(consumer, batches)
            await self._measure_lag(consumer)

    async def _consume(
        self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        """Process a fetch in one transaction, then commit its offsets; if it fails, record
        by record (`_consume_partition`). Outages retry the whole fetch later."""
        batches = {tp: records for tp, records in batches.items() if records}
        if sum(len(records) for records in batches.values()) > 1:
            try:
                done = await self.process_batch([r for rs in batches.values() for r in rs])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - decided below: outage or one bad record
                if is_transient(exc):
                    log.warning("%s: %s; will retry the batch", self.name, describe(exc))
                    for tp, records in batches.items():
                        consumer.seek(tp, records[0].offset)
                    await asyncio.sleep(1)
                    return
                log.info("%s: batch failed (%s); one at a time", self.name, describe(exc))
                done = False
            if done:
                for tp, records in batches.items():
                    self._processed[tp] = records[-1].offset + 1
                await self._commit(consumer, list(batches))
                return
        for tp, records in batches.items():
            await self._consume_partition(consumer, tp, records)

    async def _consume_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        """Process a partition's records in order, then commit once for all of them.

        Every processed record is already in the inbox, so a crash before the commit
        only makes the next owner see records it will skip.
        """
        try:
            for record in records:
                try:
                    await self.process(record)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - infrastructure down: retry later
                    # this record's transaction did not commit: fetch it again
                    log.warning(
                        "%s: %s; will retry offset %d", self.name, describe(exc), record.offset
                    )
                    consumer.seek(tp, record.offset)
                    await asyncio.sleep(1)
                    return
                self._processed[tp] = record.offset + 1
        finally:
            await self._commit(consumer, [tp])

    async def _commit(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        offsets = {tp: self._processed.pop(tp) for tp in partitions if tp in self._processed}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # a rebalance took the partition: its new owner re-reads, the inbox dedupes
            log.info("%s: offset commit failed (%s)", self.name, type(exc).__name__)

    async def process_batch(self, records: Sequence[ConsumerRecord]) -> bool:
        """Process `records` (in order per partition) in ONE transaction: the inbox claims
        every new event, the handlers run, their outbox rows are staged; all commit together.

        False, with nothing done, when a record cannot even be decoded (the caller then goes
        one record at a time); raises, with nothing committed, when a handler fails.
        """
        try:
            events = [envelope.parse(r.headers, r.value, r.key) for r in records]
        except EnvelopeError:
            return False
        duplicates: list[str] = []
        async with self._uow() as session:
            fresh = await enter_inbox_many(
                session,
                self._tables,
                [(event, record.topic) for event, record in zip(events, records, strict=True)],
            )
            for record, event, new in zip(records, events, fresh, strict=True):
                with self._span(record, event) as span:
                    span.set_attribute("mash.batch.size", len(records))
                    if not new:
                        span.set_attribute("mash.duplicate", True)
                        duplicates.append(record.topic)
                        continue
                    await self._handler(session, event)
        for record, event, new in zip(records, events, fresh, strict=True):
            if new:
                self._metrics.consumed.labels(record.topic, event.type).inc()
        for topic in duplicates:
            self._metrics.duplicates.labels(topic).inc()
        return True

    def _span(self, record: ConsumerRecord, event: CloudEvent) -> Any:
        """The consumer span of one record, child of the trace the event was published in."""
        attributes = {
            "messaging.system": "kafka",
            "messaging.operation": "process",
            "messaging.destination.name": record.topic,
            "messaging.kafka.destination.partition": record.partition,
            "messaging.kafka.message.offset": record.offset,
            "messaging.consumer.group.name": self._group,
            "messaging.message.id": event.id,
            "cloudevents.event_type": event.type,
        }
        if event.subject:  # the incident id: Zipkin finds the incident's trace by it
            attributes[INCIDENT_ID] = event.subject
        return self._tracer.start_as_current_span(
            f"{record.topic} process",
            context=extract_context(event.trace_headers),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        )

    async def process(self, record: ConsumerRecord) -> None:
        """Process one record exactly once in effect, or dead-letter it."""
        try:
            event = envelope.parse(record.headers, record.value, record.key)
        except EnvelopeError as exc:
            await self.dead_letter(record, exc)
            return
        with self._span(record, event) as span:
            for attempt in range(1, self._max_attempts + 1):
                try:
                    async with self._uow() as session:
                        if not await enter_inbox(session, self._tables, event, record.topic):
                            self._metrics.duplicates.labels(record.topic).inc()
                            span.set_attribute("mash.duplicate", True)
                            return
                        await self._handler(session, event)
                    self._metrics.consumed.labels(record.topic, event.type).inc()
                    return
                except (ValidationError, PoisonMessage) as exc:
                    await self.dead_letter(record, exc)
                    return
                except Exception as exc:  # bounded retries, then dead-letter; outages re-raised
                    if is_transient(exc):
                        raise
                    if attempt == self._max_attempts:
                        await self.dead_letter(record, exc)
                        return
                    log.info("%s: attempt %d failed: %s", self.name, attempt, describe(exc))
                    await asyncio.sleep(self._retry * attempt)

    async def dead_letter(self, record: ConsumerRecord, exc: BaseException) -> None:
        """Send the original message to the dead-letter topic, naming its origin and error."""
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("mash_dlq_")]
        headers += [
            ("mash_dlq_error", describe(exc).encode()),
            ("mash_dlq_origin_topic", record.topic.encode()),
            ("mash_dlq_origin_partition", str(record.partition).encode()),
            ("mash_dlq_origin_offset", str(record.offset).encode()),
            ("mash_dlq_consumer_group", self._group.encode()),
            ("mash_dlq_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self._producer.send_raw(DEADLETTER, record.value, record.key, headers)
        self._metrics.deadlettered.labels(record.topic).inc()
        log.warning(
            "%s: dead-lettered %s[%d]@%d: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            describe(exc),
        )

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = await consumer.position(tp)
            self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(0, high - position)
            )
