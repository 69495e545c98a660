"""The platform's promises: nothing lost, nothing done twice, poison set aside, one trace."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mash_tools.testing import TopicReader, eventually, headers_of, kafka_options
from shared.kafka import ConsumerLoop
from shared.outbox import OutboxRelay
from shared.topics import DEADLETTER, DECISIONS, INCIDENTS
from tests.integration.kit import Kit, ping_event, produce

pytestmark = pytest.mark.kafka


@asynccontextmanager
async def committed_but_unpublished(
    bootstrap: str, sender_url: str, receiver_url: str, group: str, subject: str
) -> AsyncIterator[tuple[Kit, Kit]]:
    """A sender whose event is committed to its outbox but whose relay has not run (it
    died), and a receiver consuming the topic."""
    sender = Kit(bootstrap, sender_url, f"{group}-send", principal="intake")
    receiver = Kit(bootstrap, receiver_url, f"{group}-recv")
    await receiver.platform.start([receiver.spec(INCIDENTS)])
    await sender.platform.start([], relay=False)
    try:
        async with sender.platform.uow() as session:
            await sender.platform.outbox.add(session, INCIDENTS, "k", ping_event(subject))
        yield sender, receiver
    finally:
        await sender.platform.stop()
        await receiver.platform.stop()


class CrashBeforeMark(OutboxRelay):
    """A relay that dies after the broker has the events but before marking them sent."""

    async def mark_published(self, ids: list[int]) -> None:
        raise asyncio.CancelledError("crash between publish and mark")


async def test_relay_crash_after_publish_republishes_and_consumer_acts_once(
    kafka_bootstrap: str, database_url: str, sqlite_url: str, group: str
) -> None:
    subject = str(uuid.uuid4())
    async with committed_but_unpublished(
        kafka_bootstrap, database_url, sqlite_url, group, subject
    ) as (sender, receiver):
        p = sender.platform
        crashing = CrashBeforeMark(p.tables, p.sessions, p.producer, p.metrics, p.tracer)
        with pytest.raises(asyncio.CancelledError):
            await crashing.publish_pending()
        await eventually(lambda: receiver.effect_count(subject))

        # restart: a fresh relay finds the row unmarked and publishes it again
        p.relay.start()
        await eventually(lambda: _backlog_zero(p))
        await eventually(lambda: _duplicates(receiver) >= 1)
        assert await receiver.effect_count(subject) == 1


async def _backlog_zero(platform) -> bool:
    return bool(await platform.relay.measure_backlog() == 0)


def _duplicates(kit: Kit) -> float:
    return sum(
        s.value
        for m in kit.platform.metrics.duplicates.collect()
        for s in m.samples
        if s.name.endswith("_total")
    )


async def test_committed_event_is_published_when_relay_starts_later(
    kafka_bootstrap: str, database_url: str, group: str, sqlite_url: str
) -> None:
    subject = str(uuid.uuid4())
    async with committed_but_unpublished(
        kafka_bootstrap, database_url, sqlite_url, group, subject
    ) as (sender, receiver):
        assert await sender.platform.relay.measure_backlog() == 1
        sender.platform.relay.start()  # the service came back after dying before publishing
        await eventually(lambda: receiver.effect_count(subject))
        assert await receiver.effect_count(subject) == 1


class CrashBeforeOffsetCommit(ConsumerLoop):
    """Dies after the transaction of a `mash.test.crash` event, before its offset commit."""

    async def process(self, record: Any) -> None:
        await super().process(record)
        if headers_of(record).get("ce_type") == "mash.test.crash":
            raise asyncio.CancelledError("crash before offset commit")


async def test_consumer_crash_before_offset_commit_redelivers_without_double_effect(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    subject = str(uuid.uuid4())
    kit = Kit(kafka_bootstrap, database_url, group)
    await kit.platform.start([])
    p = kit.platform
    common = dict(
        name="kit",
        topics=[INCIDENTS],
        group_id=f"mash-triage-{group}",
        bootstrap=kafka_bootstrap,
        security=kafka_options("triage"),
        handler=kit.handle,
        unit_of_work=p.uow,
        tables=p.tables,
        producer=p.producer,
        metrics=p.metrics,
        tracer=p.tracer,
    )
    crashing = CrashBeforeOffsetCommit(**common, offset_reset="latest")  # type: ignore[arg-type]
    try:
        await crashing.start()
        # an earlier message, processed and committed: where the group will resume
        warm_up = str(uuid.uuid4())
        await produce(kafka_bootstrap, INCIDENTS, ping_event(warm_up))
        await eventually(lambda: kit.effect_count(warm_up))
        await produce(kafka_bootstrap, INCIDENTS, ping_event(subject, "mash.test.crash"))
        await eventually(lambda: kit.effect_count(subject))
        await eventually(lambda: not crashing.running)
        await crashing.stop()

        # the restarted consumer resumes from the last committed offset: it sees it again
        restarted = ConsumerLoop(**common, offset_reset="latest")  # type: ignore[arg-type]
        await restarted.start()
        try:
            await eventually(lambda: _duplicates(kit) >= 1)
        finally:
            await restarted.stop()
        assert await kit.effect_count(subject) == 1
    finally:
        await p.stop()


async def test_poison_message_is_dead_lettered_and_the_next_is_processed(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    subject = str(uuid.uuid4())
    marker = uuid.uuid4().hex.encode()
    kit = Kit(kafka_bootstrap, sqlite_url, group)
    await kit.platform.start([kit.spec(INCIDENTS)])
    try:
        async with TopicReader(kafka_bootstrap, DEADLETTER) as dlq:
            await produce(kafka_bootstrap, INCIDENTS, raw=b"\xff not json " + marker)
            await produce(kafka_bootstrap, INCIDENTS, ping_event(subject))
            dead = await dlq.wait_for(lambda r: r.value and marker in r.value)
            await eventually(lambda: kit.effect_count(subject))
        h = headers_of(dead)
        assert h["mash_dlq_origin_topic"] == INCIDENTS
        assert int(h["mash_dlq_origin_offset"]) >= 0
        assert h["mash_dlq_origin_partition"] in {"0", "1", "2"}
        assert "EnvelopeError" in h["mash_dlq_error"]
    finally:
        await kit.platform.stop()


async def test_handler_failing_every_attempt_is_dead_lettered_after_bounded_retries(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    subject = str(uuid.uuid4())
    kit = Kit(kafka_bootstrap, sqlite_url, group, fail_times=3)
    await kit.platform.start([kit.spec(INCIDENTS)])
    try:
        async with TopicReader(kafka_bootstrap, DEADLETTER) as dlq:
            bad = ping_event(subject)
            await produce(kafka_bootstrap, INCIDENTS, bad)
            dead = await dlq.wait_for(lambda r: headers_of(r).get("ce_id") == bad.id)
            assert headers_of(dead)["mash_dlq_error"] == "RuntimeError"
            assert kit.failures == 3
            good = ping_event(subject)
            await produce(kafka_bootstrap, INCIDENTS, good)
            await eventually(lambda: kit.effect_count(subject))
    finally:
        await kit.platform.stop()


async def test_a_handler_that_fails_once_succeeds_on_retry_without_dead_letter(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    subject = str(uuid.uuid4())
    kit = Kit(kafka_bootstrap, sqlite_url, group, fail_times=1)
    await kit.platform.start([kit.spec(INCIDENTS)])
    try:
        await produce(kafka_bootstrap, INCIDENTS, ping_event(subject))
        await eventually(lambda: kit.effect_count(subject))
        assert kit.failures == 1
        assert _deadlettered(kit) == 0
    finally:
        await kit.platform.stop()


def _deadlettered(kit: Kit) -> float:
    return sum(
        s.value
        for m in kit.platform.metrics.deadlettered.collect()
        for s in m.samples
        if s.name.endswith("_total")
    )


async def test_two_hops_built_from_the_shared_library_keep_one_trace(
    kafka_bootstrap: str, sqlite_url: str, tmp_path, group: str
) -> None:
    subject = str(uuid.uuid4())
    spans = InMemorySpanExporter()
    # intake publishes, triage consumes and forwards, notify consumes: each its own principal
    source = Kit(
        kafka_bootstrap,
        f"sqlite+aiosqlite:///{tmp_path / 'source.db'}",
        f"{group}-0",
        exporters=[spans],
        principal="intake",
    )
    first = Kit(kafka_bootstrap, sqlite_url, f"{group}-1", forward_to=DECISIONS, exporters=[spans])
    second = Kit(
        kafka_bootstrap,
        f"sqlite+aiosqlite:///{tmp_path / 'second.db'}",
        f"{group}-2",
        exporters=[spans],
        principal="notify",
    )
    await second.platform.start([second.spec(DECISIONS)])
    await first.platform.start([first.spec(INCIDENTS)])
    await source.platform.start([])
    try:
        tracer = source.platform.tracer
        with tracer.start_as_current_span("origin", kind=SpanKind.SERVER) as origin:
            async with source.platform.uow() as session:
                await source.platform.outbox.add(session, INCIDENTS, "k", ping_event(subject))
        await eventually(lambda: second.effect_count(subject))
        await asyncio.sleep(0)  # let the last span end
    finally:
        await source.platform.stop()
        await first.platform.stop()
        await second.platform.stop()
    trace_id = origin.get_span_context().trace_id
    consumed = [
        s
        for s in spans.get_finished_spans()
        if s.kind == SpanKind.CONSUMER and s.attributes and s.attributes.get("messaging.message.id")
    ]
    hops = {
        s.attributes["messaging.destination.name"]  # type: ignore[index]
        for s in consumed
        if s.context.trace_id == trace_id
    }
    assert hops == {INCIDENTS, DECISIONS}


async def test_housekeeping_forgets_only_what_no_redelivery_can_need(database_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, insert, select

    kit = Kit("127.0.0.1:1", database_url, "unused")
    await kit.platform.start_storage()
    p = kit.platform
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=40), now - timedelta(days=1)
    try:
        async with p.uow() as session:
            for i, (created, published) in enumerate([(old, old), (recent, recent), (old, None)]):
                await session.execute(
                    insert(p.tables.outbox).values(
                        event_id=f"e{i}",
                        topic="t",
                        key=None,
                        headers={},
                        payload="{}",
                        created_at=created,
                        published_at=published,
                    )
                )
            for i, at in enumerate([old, recent]):
                await session.execute(
                    insert(p.tables.inbox).values(
                        event_id=f"i{i}", topic="t", type="x", subject="s", processed_at=at
                    )
                )
        relay = OutboxRelay(p.tables, p.sessions, None, p.metrics, p.tracer)  # type: ignore[arg-type]
        await relay.purge(now)
        async with p.sessions() as session:
            outbox = (
                (
                    await session.execute(
                        select(p.tables.outbox.c.event_id).where(p.tables.outbox.c.topic == "t")
                    )
                )
                .scalars()
                .all()
            )
            inbox = (
                await session.execute(select(func.count()).select_from(p.tables.inbox))
            ).scalar()
        # the unpublished one is never purged (the purge's own log entries: test_outbox_purge)
        assert sorted(outbox) == ["e1", "e2"]
        assert inbox == 1
    finally:
        await p.stop()


async def test_a_second_instance_joining_mid_stream_changes_no_effect_count(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    """Partitions move between two instances of one service; each event acts once."""
    first = Kit(kafka_bootstrap, database_url, group)
    second = Kit(kafka_bootstrap, database_url, group)
    await first.platform.start([first.spec(INCIDENTS)])
    subjects = [str(uuid.uuid4()) for _ in range(30)]
    try:
        for i, subject in enumerate(subjects[:15]):
            await produce(kafka_bootstrap, INCIDENTS, ping_event(subject), key=f"v{i}".encode())
        await second.platform.start([second.spec(INCIDENTS)])  # a rebalance
        for i, subject in enumerate(subjects[15:]):
            await produce(kafka_bootstrap, INCIDENTS, ping_event(subject), key=f"w{i}".encode())

        async def all_done() -> bool:
            counts = [await first.effect_count(s) for s in subjects]
            return all(c >= 1 for c in counts)

        await eventually(all_done, timeout=60)
        assert [await first.effect_count(s) for s in subjects] == [1] * 30
    finally:
        await second.platform.stop()
        await first.platform.stop()


async def test_the_relay_always_stops_even_when_woken_as_it_is_cancelled(
    sqlite_url: str,
) -> None:
    """A cancel landing as the relay is woken must not be lost (it hung shutdowns once:
    on 3.11 `asyncio.wait_for` can swallow it)."""
    kit = Kit("127.0.0.1:1", sqlite_url, "unused")
    await kit.platform.start_storage()
    p = kit.platform
    try:
        for attempt in range(1000):
            relay = OutboxRelay(
                p.tables,
                p.sessions,
                None,  # type: ignore[arg-type]  # polling only: never publishes
                p.metrics,
                p.tracer,
                poll_seconds=0.001,
            )
            relay.start()
            await asyncio.sleep(0.001 * (attempt % 7))
            relay.wake()  # a commit elsewhere wakes the relay as it is being stopped
            async with asyncio.timeout(5):
                await relay.stop()
            assert not relay.running
    finally:
        await p.stop()
