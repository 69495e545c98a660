"""The batched pipeline: a fetch in one transaction, the fallback that isolates poison, and
the outbox relay shared by two replicas on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncSession

from mash_tools.testing import TopicReader, data_of, eventually, headers_of, kafka_options
from shared.envelope import CloudEvent
from shared.kafka import ConsumerLoop, EventProducer, PoisonMessage
from shared.kafka_security import producer_of
from shared.outbox import OutboxRelay
from shared.service import ConsumerSpec
from shared.topics import DEADLETTER, INCIDENTS
from tests.integration.kit import Kit, ping_event

pytestmark = pytest.mark.kafka


class PoisonKit(Kit):
    """A kit whose handler cannot process events of type `mash.test.poison`."""

    async def handle(self, session: AsyncSession, event: CloudEvent) -> None:
        if event.type == "mash.test.poison":
            raise PoisonMessage("this event can never be processed")
        await super().handle(session, event)


@asynccontextmanager
async def paused(loop: ConsumerLoop) -> AsyncIterator[None]:
    """Hold the loop's fetches while a test lines messages up, so that they arrive
    together in one fetch when it resumes (the broker has them all by then)."""
    consumer = loop._consumer  # noqa: SLF001 - the test needs the records in one fetch
    assert consumer is not None
    consumer.pause(*consumer.assignment())
    await asyncio.sleep(0.3)  # a fetch already under way returns (fetch_max_wait_ms)
    try:
        yield
    finally:
        consumer.resume(*consumer.assignment())


async def produce_all(
    bootstrap: str, messages: list[CloudEvent | bytes], key: bytes
) -> tuple[TopicPartition, int]:
    """Send every message on one key (one partition, in order) and wait for them all; the
    partition, and the offset after the last of them."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, **kafka_options(producer_of(INCIDENTS))
    )
    await producer.start()
    try:
        futures = []
        for message in messages:
            if isinstance(message, CloudEvent):
                value, headers = message.value(), message.headers()
            else:
                value, headers = message, []
            futures.append(await producer.send(INCIDENTS, value, key=key, headers=headers))
        last = (await asyncio.gather(*futures))[-1]
        return TopicPartition(last.topic, last.partition), last.offset + 1
    finally:
        await producer.stop()


def batch_sizes(exporter: InMemorySpanExporter, ids: set[str]) -> list[Any]:
    """The `mash.batch.size` of the consumer spans of the events `ids`."""
    return [
        (span.attributes or {}).get("mash.batch.size")
        for span in exporter.get_finished_spans()
        if (span.attributes or {}).get("messaging.message.id") in ids
    ]


async def test_a_fetch_is_processed_in_one_transaction_each_event_once(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    exporter = InMemorySpanExporter()
    kit = Kit(kafka_bootstrap, database_url, group, exporters=[exporter])
    await kit.platform.start([kit.spec(INCIDENTS)])
    subject = str(uuid.uuid4())
    events = [ping_event(subject) for _ in range(40)]
    try:
        async with paused(kit.platform.consumers[0]):
            # one event twice, as a relay that crashed before marking would send it
            await produce_all(kafka_bootstrap, [*events, events[0]], key=subject.encode())
        await eventually(lambda: _at_least(kit, subject, 40))
        await asyncio.sleep(0.5)  # anything acting twice would have acted by now
        assert await kit.effect_count(subject) == 40
        sizes = batch_sizes(exporter, {e.id for e in events})
        assert sizes == [41] * 41  # each span (the duplicate too) in the one transaction
        assert _total(kit.platform.metrics.duplicates) == 1
        assert _total(kit.platform.metrics.consumed, "mash.test.ping") == 40
    finally:
        await kit.platform.stop()


async def test_a_poison_event_in_a_batch_is_dead_lettered_alone_and_the_rest_act_once(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    kit = PoisonKit(kafka_bootstrap, database_url, group)
    await kit.platform.start([kit.spec(INCIDENTS)])
    subject = str(uuid.uuid4())
    before = [ping_event(subject) for _ in range(10)]
    poison = ping_event(subject, type_="mash.test.poison")
    after = [ping_event(subject) for _ in range(10)]
    try:
        async with TopicReader(kafka_bootstrap, DEADLETTER) as dlq:
            async with paused(kit.platform.consumers[0]):
                await produce_all(kafka_bootstrap, [*before, poison, *after], subject.encode())
            dead = await dlq.wait_for(lambda r: headers_of(r).get("ce_id") == poison.id)
            await eventually(lambda: _at_least(kit, subject, 20))
            await asyncio.sleep(0.5)
            await dlq.poll()
        assert await kit.effect_count(subject) == 20  # every other event, once
        ours = {e.id for e in [*before, poison, *after]}
        dead_ours = [r for r in dlq.records if headers_of(r).get("ce_id") in ours]
        assert [headers_of(r)["ce_id"] for r in dead_ours] == [poison.id]  # alone, once
        assert headers_of(dead)["mash_dlq_error"].startswith("PoisonMessage")
        assert data_of(dead) == {"hello": "world"}
    finally:
        await kit.platform.stop()


async def test_an_undecodable_message_in_a_batch_is_dead_lettered_alone(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    kit = Kit(kafka_bootstrap, sqlite_url, group)
    await kit.platform.start([kit.spec(INCIDENTS)])
    subject = str(uuid.uuid4())
    marker = uuid.uuid4().hex.encode()
    good = [ping_event(subject) for _ in range(6)]
    try:
        async with TopicReader(kafka_bootstrap, DEADLETTER) as dlq:
            async with paused(kit.platform.consumers[0]):
                garbage = b"\xff not json " + marker
                await produce_all(kafka_bootstrap, [*good[:3], garbage, *good[3:]], b"k")
            await dlq.wait_for(lambda r: r.value and marker in r.value)
            await eventually(lambda: _at_least(kit, subject, 6))
            await asyncio.sleep(0.5)
            await dlq.poll()
        assert await kit.effect_count(subject) == 6
        ids = {e.id for e in good}
        assert not [r for r in dlq.records if headers_of(r).get("ce_id") in ids]
        assert len([r for r in dlq.records if r.value and marker in r.value]) == 1
    finally:
        await kit.platform.stop()


async def test_two_relays_over_one_postgresql_outbox_publish_every_row_once_in_key_order(
    kafka_bootstrap: str, postgres_server: str, group: str
) -> None:
    from mash_tools import testing

    url = await testing.create_database(postgres_server)
    first = Kit(kafka_bootstrap, url, f"{group}-a", principal="intake")
    second = Kit(kafka_bootstrap, url, f"{group}-b", principal="intake")
    await first.platform.start_storage()
    keys = [f"victim-{i}" for i in range(5)]
    run = uuid.uuid4().hex
    try:
        async with TopicReader(kafka_bootstrap, INCIDENTS) as reader:
            # rows committed while no relay runs, then more while two relays compete
            await _stage(first, run, keys, range(0, 100))
            await first.platform.stop()
            await first.platform.start([])
            await second.platform.start([])
            for start in range(100, 400, 50):
                await _stage(second if start % 100 else first, run, keys, range(start, start + 50))

            async def all_read() -> bool:
                await reader.poll()
                return len(_ours(reader.records, run)) >= 400

            await eventually(all_read, timeout=60)
            await asyncio.sleep(0.5)
            await reader.poll()
        seen = _ours(reader.records, run)
        assert sorted(n for _, n in seen) == list(range(400))  # every row once
        for key in keys:
            in_key = [n for k, n in seen if k == key]
            assert in_key == sorted(in_key)  # in the order they were committed
        # neither relay published a row the other had already sent
        produced = _total(first.platform.metrics.produced) + _total(
            second.platform.metrics.produced
        )
        assert produced == 400
    finally:
        await second.platform.stop()
        await first.platform.stop()


async def _stage(kit: Kit, run: str, keys: list[str], numbers: range) -> None:
    for n in numbers:
        async with kit.platform.uow() as session:
            event = CloudEvent(
                id=str(uuid.uuid4()),
                source="/mash/test",
                type="mash.test.sequence",
                subject=run,
                data={"n": n},
            )
            await kit.platform.outbox.add(session, INCIDENTS, keys[n % len(keys)], event)


def _ours(records: list[Any], run: str) -> list[tuple[str, int]]:
    return [
        (r.key.decode(), data_of(r)["n"]) for r in records if headers_of(r).get("ce_subject") == run
    ]


async def _at_least(kit: Kit, subject: str, n: int) -> bool:
    return await kit.effect_count(subject) >= n


def _total(counter: Any, type_: str | None = None) -> float:
    return sum(
        float(s.value)
        for m in counter.collect()
        for s in m.samples
        if s.name.endswith("_total") and (type_ is None or s.labels.get("type") == type_)
    )


class Reading(OutboxRelay):
    """The relay, counting its reads of the outbox (each builds `_pending` once)."""

    reads = 0

    def _pending(self) -> Any:
        self.reads += 1
        return super()._pending()


def waiting(relay: OutboxRelay) -> bool:
    """Whether the relay sleeps until a commit wakes it (or its poll)."""
    return bool(relay._wake._waiters)  # noqa: SLF001


@asynccontextmanager
async def reading_relay(kit: Kit) -> AsyncIterator[Reading]:
    """A relay of `kit`'s outbox that only a wake moves (its poll is a minute)."""
    producer = EventProducer(kit.bootstrap, "reading-intake", kafka_options("intake"))
    await producer.start()
    p = kit.platform
    relay = Reading(p.tables, p.sessions, producer, p.metrics, p.tracer, poll_seconds=60)
    relay.start()
    try:
        yield relay
    finally:
        await relay.stop()
        await producer.stop()


async def test_a_round_that_left_nothing_behind_sleeps_without_reading_again(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    """A round that read fewer rows than a batch and sent them all has nothing left to
    find: the relay sleeps at once (issue 23: an idle read less per commit)."""
    kit = Kit(kafka_bootstrap, database_url, group, principal="intake")
    await kit.platform.start([], relay=False)
    run = uuid.uuid4().hex
    try:
        async with TopicReader(kafka_bootstrap, INCIDENTS) as reader, reading_relay(kit) as relay:
            await eventually(lambda: waiting(relay))  # the first round found nothing
            assert relay.reads == 1
            await _stage(kit, run, ["victim"], range(3))  # three commits, no relay of kit's
            relay.wake()

            async def all_read() -> bool:
                await reader.poll()
                return len(_ours(reader.records, run)) == 3

            await eventually(all_read)
            await eventually(lambda: waiting(relay))
            assert relay.reads == 2  # the round that sent them, and no read after it
    finally:
        await kit.platform.stop()


async def test_rows_committed_while_the_relay_publishes_are_never_left_waiting(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    """Commits arriving during rounds, each waking the relay: every row is published
    although the relay's poll (a minute) never comes round."""
    kit = Kit(kafka_bootstrap, database_url, group, principal="intake")
    await kit.platform.start([], relay=False)
    run = uuid.uuid4().hex
    try:
        async with TopicReader(kafka_bootstrap, INCIDENTS) as reader, reading_relay(kit) as relay:
            for n in range(60):
                await _stage(kit, run, ["victim"], range(n, n + 1))
                relay.wake()
                if n % 7 == 0:
                    await asyncio.sleep(0)  # let a round start mid-stream

            async def all_read() -> bool:
                await reader.poll()
                return len(_ours(reader.records, run)) == 60

            await eventually(all_read)
        assert [n for _, n in _ours(reader.records, run)] == list(range(60))
    finally:
        await kit.platform.stop()


async def committed_offsets(bootstrap: str, loop: ConsumerLoop) -> dict[Any, int]:
    """The loop's group's committed offsets, as the broker keeps them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options("admin"))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(loop._group)  # noqa: SLF001
        return {tp: meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()


async def test_a_stream_that_stops_has_every_settled_offset_committed(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    """Offsets are committed at most every `commit_seconds` while records keep coming,
    and the last of them no later than that once they stop."""
    kit = Kit(kafka_bootstrap, sqlite_url, group)
    await kit.platform.start([kit.spec(INCIDENTS)])
    loop = kit.platform.consumers[0]
    subject = str(uuid.uuid4())
    try:
        for _ in range(5):
            tp, end = await produce_all(kafka_bootstrap, [ping_event(subject)], subject.encode())
        await eventually(lambda: _at_least(kit, subject, 5))

        async def all_committed() -> bool:
            return (await committed_offsets(kafka_bootstrap, loop)).get(tp) == end

        await eventually(all_committed)
    finally:
        await kit.platform.stop()


async def test_a_stopping_consumer_commits_what_it_settled(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    """Offsets not yet due are committed on stop: a restart does not read them again."""
    kit = Kit(kafka_bootstrap, sqlite_url, group)
    await kit.platform.start([kit.spec(INCIDENTS)])
    loop = kit.platform.consumers[0]
    loop._commit_every = 3600  # noqa: SLF001 - nothing is due before the stop
    loop._committed_at = time.monotonic()  # noqa: SLF001
    subject = str(uuid.uuid4())
    try:
        tp, end = await produce_all(kafka_bootstrap, [ping_event(subject)], subject.encode())
        await eventually(lambda: loop._settled.get(tp) == end)  # noqa: SLF001
        assert await kit.effect_count(subject) == 1
        assert (await committed_offsets(kafka_bootstrap, loop)).get(tp) != end  # not due
    finally:
        await kit.platform.stop()
    assert (await committed_offsets(kafka_bootstrap, loop)).get(tp) == end


async def test_a_lingering_consumer_takes_a_steady_trickle_a_batch_at_a_time(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    """`ConsumerSpec.linger_ms`: the broker holds the fetch to gather more, so events
    arriving one at a time are handled together (without it, each alone as it comes)."""
    exporter = InMemorySpanExporter()
    kit = Kit(kafka_bootstrap, sqlite_url, group, exporters=[exporter])
    await kit.platform.start([ConsumerSpec("kit", [INCIDENTS], kit.handle, linger_ms=3000)])
    subject = str(uuid.uuid4())
    events = [ping_event(subject) for _ in range(20)]
    try:
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, **kafka_options(producer_of(INCIDENTS))
        )
        await producer.start()
        try:  # a trickle: each sent on its own, 20 ms apart, within one wait of the broker's
            for event in events:
                value, headers = event.value(), event.headers()
                await producer.send_and_wait(INCIDENTS, value, subject.encode(), headers=headers)
                await asyncio.sleep(0.02)
        finally:
            await producer.stop()
        await eventually(lambda: _at_least(kit, subject, 20))
        sizes = batch_sizes(exporter, {e.id for e in events})
        assert len(sizes) == 20
        # in one fetch, or two where a wait ended mid-trickle: never one event a fetch
        assert sum(1 for size in sizes if size is None) <= 1
        assert await kit.effect_count(subject) == 20
    finally:
        await kit.platform.stop()
