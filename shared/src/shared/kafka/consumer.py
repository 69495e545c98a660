"""The consumer loop: the one path from a fetch to its offset commit.

Where does my handler's exception go? Follow `ConsumerLoop._consume`, the only place
that decides; `shared.kafka.failures.classify` names the kind of failure:

1. **Fetch** (`_run`): up to `max_batch` records from the assigned partitions.
2. **The fetch in one transaction** (`process_batch`, when it holds more than one
   record): the inbox claims every new event id, a `BatchHandler`'s batch step runs
   with the new events, the handlers run in order per partition, their outbox rows are
   staged, and all of it commits together. Then the
   offsets are committed: done.
   - an OUTAGE (database or broker unreachable, a deadlock): nothing committed; the
     loop seeks back to the fetch's first offsets, waits a second, fetches it again.
   - anything else (POISON or FAULT, in any one record): nothing committed; go to 3.
3. **One record per transaction** (`_consume_alone`, then `process`), each partition in
   order:
   - POISON (`EnvelopeError`, a payload `ValidationError`, `PoisonMessage`):
     dead-lettered at once.
   - FAULT (any other exception): tried again in a fresh transaction, up to
     `max_attempts` in all, a little later each time; then dead-lettered.
   - OUTAGE (including a dead-letter the broker refused): the partition stops there;
     the loop seeks back to that record and waits a second, so the record is tried
     again, for as long as the outage lasts, never dead-lettered.
4. **Commit** (`_commit`) the offsets after the last settled record of each partition
   (processed, skipped as a duplicate, or dead-lettered): at most every `commit_seconds`
   (a steady stream fetched one or two records at a time would otherwise cost a broker
   round trip a record), and no later than that; and on stop.

A crash between a transaction and its offset commit redelivers records whose events
are already in the inbox (at most `commit_seconds` of them, besides the fetch under way):
they are skipped (`mash.duplicate` on the span). A rebalance
commits what was settled before the partitions move (`_CommitOnRevoke`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from opentelemetry.trace import SpanKind, Tracer

from shared import envelope
from shared.envelope import CloudEvent, EnvelopeError
from shared.kafka.failures import Failure, classify, dead_letter, describe
from shared.kafka.inbox import enter_inbox, enter_inbox_many
from shared.kafka.producer import EventProducer
from shared.kafka.table import BatchHandler, Handler
from shared.metrics import Metrics
from shared.tables import MessageTables
from shared.telemetry import INCIDENT_ID, extract_context

log = logging.getLogger(__name__)

UnitOfWork = Callable[[], Any]  # () -> async context manager yielding a session
LINGER_MIN_BYTES = 1048576
"""What a lingering consumer's fetch waits to gather, unless its wait ends first."""
Fetch = dict[TopicPartition, list[ConsumerRecord]]


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits what was settled before partitions move to another consumer.

    No lock is shared with the loop (aiokafka deadlocks on one): the loop only records
    settled offsets, and `commit` takes what is recorded.
    """

    def __init__(self, commit: Callable[[list[TopicPartition]], Awaitable[None]]) -> None:
        self._commit = commit

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._commit(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class ConsumerLoop:
    """Consumes `topics` as `group_id`, a fetched batch per transaction, in order per partition.

    The path from fetch to commit, and where each failure goes: the module docstring.
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
        tables: MessageTables,
        producer: EventProducer,
        metrics: Metrics,
        tracer: Tracer,
        max_attempts: int = 3,
        retry_seconds: float = 0.2,
        offset_reset: str = "earliest",
        security: Mapping[str, Any] | None = None,
        max_batch: int = 500,
        fetch_max_wait_ms: int = 100,
        commit_seconds: float = 0.2,
        linger_ms: int = 0,
    ) -> None:
        self.name = name
        self._commit_every = commit_seconds
        self._committed_at = 0.0
        self._max_batch = max_batch
        self._fetch_wait = max(fetch_max_wait_ms, linger_ms)
        # lingering: the broker answers when it has gathered a fetch's worth, or at the wait
        self._fetch_min = LINGER_MIN_BYTES if linger_ms > 0 else 1
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
        self._settled: dict[TopicPartition, int] = {}
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
            # so this wait adds no latency: it only spaces out the idle polls; a lingering
            # consumer's fetch waits for more (`ConsumerSpec.linger_ms`)
            fetch_max_wait_ms=self._fetch_wait,
            fetch_min_bytes=self._fetch_min,
            max_partition_fetch_bytes=4 * 1048576,
            max_poll_interval_ms=600000,
            **self._security,
        )
        for topic in self._topics:  # at 0 from the start: alerts see the first dead letter
            self._metrics.deadlettered.labels(topic)
        self._consumer.subscribe(self._topics, listener=_CommitOnRevoke(self._commit_revoked))
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
            with contextlib.suppress(Exception):  # what was settled is not read again
                await self._commit(self._consumer, list(self._settled))
            await self._consumer.stop()

    async def _run(self) -> None:
        """1. Fetch, and hand each fetch to `_consume`."""
        assert self._consumer is not None
        consumer = self._consumer
        while not self._stopping:
            wait = 500  # ms; offsets waiting to be committed wait no longer than they must
            if self._settled:
                due_in = self._committed_at + self._commit_every - time.monotonic()
                if due_in <= 0:
                    await self._commit(consumer, list(self._settled))
                else:
                    wait = max(1, min(wait, math.ceil(1000 * due_in)))
            try:
                fetch = await consumer.getmany(timeout_ms=wait, max_records=self._max_batch)
            except KafkaError as exc:
                log.warning("%s: fetch failed: %s", self.name, type(exc).__name__)
                await asyncio.sleep(1)
                continue
            if fetch:
                await self._consume(consumer, fetch)
            await self._measure_lag(consumer)

    async def _consume(self, consumer: AIOKafkaConsumer, fetch: Fetch) -> None:
        """2-4. The fetch in one transaction; on an outage the fetch again; on anything
        else one record per transaction. Then commit what is settled."""
        fetch = {tp: records for tp, records in fetch.items() if records}
        records = [record for rs in fetch.values() for record in rs]
        if len(records) > 1:
            try:
                await self.process_batch(records)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is classified here
                if classify(exc) is Failure.OUTAGE:
                    log.warning("%s: %s; will retry the fetch", self.name, describe(exc))
                    for tp, rs in fetch.items():
                        consumer.seek(tp, rs[0].offset)
                    await asyncio.sleep(1)
                    return
                log.info("%s: batch failed (%s); one at a time", self.name, describe(exc))
            else:
                for tp, rs in fetch.items():
                    self._settled[tp] = rs[-1].offset + 1
                return  # committed by `_run`
        for tp, rs in fetch.items():
            await self._consume_alone(consumer, tp, rs)

    async def _consume_alone(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        """3. A partition's records in order, one transaction each (`process`), each
        settled as it is done (`_run` commits them). `process` raises only for an outage."""
        for record in records:
            try:
                await self.process(record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - an outage: this record again later
                log.warning("%s: %s; will retry offset %d", self.name, describe(exc), record.offset)
                consumer.seek(tp, record.offset)
                await asyncio.sleep(1)
                return
            self._settled[tp] = record.offset + 1

    async def _commit(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """4. Commit the settled offsets of `partitions`."""
        offsets = {tp: self._settled.pop(tp) for tp in partitions if tp in self._settled}
        if not offsets:
            return
        self._committed_at = time.monotonic()
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # a rebalance took the partition: its new owner re-reads, the inbox dedupes
            log.info("%s: offset commit failed (%s)", self.name, type(exc).__name__)

    async def _commit_revoked(self, revoked: list[TopicPartition]) -> None:
        if self._consumer is not None:
            await self._commit(self._consumer, revoked)

    async def process_batch(self, records: Sequence[ConsumerRecord]) -> None:
        """2. Process `records` (in order per partition) in ONE transaction: the inbox claims
        every new event, the handlers run, their outbox rows are staged; all commit together.

        Raises, with nothing committed, when a record cannot be decoded or a handler fails.
        """
        events = [envelope.parse(r.headers, r.value, r.key) for r in records]
        duplicates: list[str] = []
        async with self._uow() as session:
            fresh = await enter_inbox_many(
                session,
                self._tables,
                [(event, record.topic) for event, record in zip(events, records, strict=True)],
            )
            if isinstance(self._handler, BatchHandler):  # the batch's step before its handlers
                new_events = [e for e, new in zip(events, fresh, strict=True) if new]
                await self._handler.prepare(session, new_events)
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

    async def process(self, record: ConsumerRecord) -> None:
        """3. Process one record exactly once in effect, or dead-letter it; raises only for
        an outage (the record is then tried again)."""
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
                except Exception as exc:
                    failure = classify(exc)
                    if failure is Failure.OUTAGE:
                        raise
                    if failure is Failure.POISON or attempt == self._max_attempts:
                        await self.dead_letter(record, exc)
                        return
                    log.info("%s: attempt %d failed: %s", self.name, attempt, describe(exc))
                    await asyncio.sleep(self._retry * attempt)

    async def dead_letter(self, record: ConsumerRecord, exc: BaseException) -> None:
        """Set `record` aside on the dead-letter topic, counted and logged (no values)."""
        await dead_letter(self._producer, record, exc, self._group)
        self._metrics.deadlettered.labels(record.topic).inc()
        log.warning(
            "%s: dead-lettered %s[%d]@%d: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            describe(exc),
        )

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

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = await consumer.position(tp)
            self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(0, high - position)
            )
