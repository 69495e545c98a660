"""Nothing stops a relay (contract section 12): a row the broker refuses for good goes to the
dead-letter topic and the rows after it are published; an outage is retried, never
dead-lettered; a relay stuck for any other reason makes the service unready."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka.admin import NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
)

from mash_tools.admin import admin_client
from mash_tools.testing import (
    TopicReader,
    eventually,
    headers_of,
    hub_settings,
    kafka_options,
)
from shared.envelope import CloudEvent
from shared.kafka import EventProducer
from shared.kafka_security import ADMIN
from shared.outbox import OutboxRelay
from shared.service import Platform
from shared.topics import DEADLETTER, DECISIONS, INCIDENTS
from tests.integration.kit import Kit

pytestmark = pytest.mark.kafka

OVER_A_MEBIBYTE = 1_200_000
"""Larger than the broker's message.max.bytes (1 MiB and 12 bytes by default) and the
producer's max_request_size, which refuses it first."""


def event(data: Any = None) -> CloudEvent:
    subject = str(uuid.uuid4())
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/mash/test",
        type="mash.test.ping",
        subject=subject,
        data=data if data is not None else {"hello": "world"},
    )


def total(counter: Any, **labels: str) -> float:
    return float(
        sum(
            s.value
            for m in counter.collect()
            for s in m.samples
            if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items())
        )
    )


async def stage(platform: Platform[Any], topic: str, *events: CloudEvent) -> None:
    """Commit `events` to the outbox in one transaction, under one key (one partition)."""
    async with platform.uow() as session:
        for e in events:
            await platform.outbox.add(session, topic, "one-victim", e)


def of(records: list[Any], e: CloudEvent) -> list[Any]:
    return [r for r in records if headers_of(r).get("ce_id") == e.id]


async def test_an_event_larger_than_the_broker_takes_is_dead_lettered_and_the_next_follows(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    kit = Kit(kafka_bootstrap, database_url, group, principal="intake")
    p = kit.platform
    await p.start([])
    try:
        before, big, after = event(), event({"blob": "x" * OVER_A_MEBIBYTE}), event()
        async with (
            TopicReader(kafka_bootstrap, DEADLETTER) as dlq,
            TopicReader(kafka_bootstrap, INCIDENTS) as out,
        ):
            await stage(p, INCIDENTS, before, big, after)
            dead = await dlq.wait_for(
                lambda r: headers_of(r).get("mash_dlq_origin_event_id") == big.id
            )
            await out.wait_for(lambda r: headers_of(r).get("ce_id") == after.id)

            h = headers_of(dead)
            assert h["mash_dlq_error"] == "MessageSizeTooLargeError"
            assert h["mash_dlq_origin_topic"] == INCIDENTS
            assert h["mash_dlq_relay"] == "kit"
            assert h["ce_id"] == big.id
            assert h["ce_type"] == "mash.test.ping"
            placeholder = json.loads(dead.value)  # the payload is what is too large: a stub
            assert placeholder["event_id"] == big.id
            assert placeholder["origin_topic"] == INCIDENTS
            assert len(dead.value) < 1000
            assert b"xxxx" not in dead.value
            assert total(p.metrics.deadlettered, topic=INCIDENTS) == 1
            assert total(p.metrics.produced, topic=DEADLETTER) == 1

            # in order, the big one never on its topic
            published = [headers_of(r)["ce_id"] for r in out.records]
            assert published.index(before.id) < published.index(after.id)
            assert not of(out.records, big)

            # the relay goes on: a later event leaves too, and the service stays ready
            later = event()
            await stage(p, INCIDENTS, later)
            await out.wait_for(lambda r: headers_of(r).get("ce_id") == later.id)
        assert await p.relay.measure_backlog() == 0
        assert p.relay.running
        assert not p.relay.stuck()
        assert (await p.readiness())["outbox_moving"]
    finally:
        await p.stop()


async def test_a_record_the_broker_itself_refuses_is_sent_alone_then_dead_lettered(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    """A topic whose max.message.bytes is smaller than a record the producer accepts: the
    broker refuses the record's batch, the relay tries it alone, then dead-letters it."""
    topic = f"mash.test.small-{uuid.uuid4().hex[:8]}.v1"
    admin = admin_client(kafka_bootstrap, hub_settings(kafka_bootstrap))
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "40000"})]
        )
    finally:
        await admin.close()
    kit = Kit(kafka_bootstrap, sqlite_url, group, principal=ADMIN)
    p = kit.platform
    await p.start([])
    try:
        before, big, after = event(), event({"blob": "y" * 100_000}), event()
        async with (
            TopicReader(kafka_bootstrap, DEADLETTER) as dlq,
            TopicReader(kafka_bootstrap, topic) as out,
        ):
            await stage(p, topic, before, big, after)
            dead = await dlq.wait_for(
                lambda r: headers_of(r).get("mash_dlq_origin_event_id") == big.id
            )
            await out.wait_for(lambda r: headers_of(r).get("ce_id") == after.id)
            assert headers_of(dead)["mash_dlq_error"] == "MessageSizeTooLargeError"
            assert json.loads(dead.value)["event_id"] == big.id
            published = [headers_of(r)["ce_id"] for r in out.records]
            assert published.index(before.id) < published.index(after.id)
            assert big.id not in published
        assert total(p.metrics.deadlettered, topic=topic) == 1
        assert await p.relay.measure_backlog() == 0
    finally:
        await p.stop()


class Flaky(EventProducer):
    """The real producer, but the first `times` sends meet an outage (`error`): as a
    future that fails, or, for `KafkaTimeoutError`, raised at once, as aiokafka does when
    it cannot get the topic's metadata."""

    def __init__(self, bootstrap: str, principal: str, error: KafkaError, times: int) -> None:
        super().__init__(bootstrap, f"flaky-{principal}", kafka_options(principal))
        self.error = error
        self.times = times
        self.failed = 0

    async def send(self, topic: str, value: bytes, key: str | None, headers: dict[str, str]) -> Any:
        if topic != DEADLETTER and self.failed < self.times:
            self.failed += 1
            if isinstance(self.error, KafkaTimeoutError):
                raise type(self.error)()
            failing: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failing.set_exception(type(self.error)())
            return failing
        return await super().send(topic, value, key, headers)


@pytest.mark.parametrize(
    "error",
    [
        NotLeaderForPartitionError(),
        RequestTimedOutError(),
        KafkaConnectionError(),
        KafkaTimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_an_outage_is_retried_and_never_dead_lettered(
    kafka_bootstrap: str, sqlite_url: str, group: str, error: KafkaError
) -> None:
    kit = Kit(kafka_bootstrap, sqlite_url, group, principal="intake")
    p = kit.platform
    await p.start([], relay=False)
    flaky = Flaky(kafka_bootstrap, "intake", error, times=2)
    await flaky.start()
    relay = OutboxRelay(p.tables, p.sessions, flaky, p.metrics, p.tracer, poll_seconds=0.05)
    relay.start()
    try:
        first, second = event(), event()
        async with (
            TopicReader(kafka_bootstrap, DEADLETTER) as dlq,
            TopicReader(kafka_bootstrap, INCIDENTS) as out,
        ):
            await stage(p, INCIDENTS, first, second)
            await out.wait_for(lambda r: headers_of(r).get("ce_id") == second.id)
            assert flaky.failed == 2
            published = [headers_of(r)["ce_id"] for r in out.records]
            assert published.index(first.id) < published.index(second.id)
            await dlq.poll()
            assert not [
                r
                for r in dlq.records
                if headers_of(r).get("mash_dlq_origin_event_id") in {first.id, second.id}
            ]
        assert total(p.metrics.deadlettered) == 0
        assert await relay.measure_backlog() == 0
    finally:
        await relay.stop()
        await flaky.stop()
        await p.stop()


async def test_a_relay_stuck_on_an_outage_makes_the_service_unready_then_ready_again(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    """Intake may not write the decisions topic: the broker refuses every try, which is no
    fault of the row (an ACL to fix), so the row waits, the relay is stuck and says so."""
    kit = Kit(kafka_bootstrap, sqlite_url, group, principal="intake")
    p = kit.platform
    await p.start([])
    try:
        assert all((await p.readiness()).values())
        p.relay.stuck_after = 1.0  # a minute in production
        stuck = event()
        await stage(p, DECISIONS, stuck)

        async def unready() -> bool:
            checks = await p.readiness()
            return not checks["outbox_moving"] and checks["outbox_relay"]

        await eventually(unready)
        assert total(p.metrics.deadlettered) == 0
        assert await p.relay.measure_backlog() == 1  # waiting, not lost

        # the cause removed (here: the row taken out by hand), the relay moves and is ready
        async with p.uow() as session:
            await session.execute(
                p.tables.outbox.delete().where(p.tables.outbox.c.event_id == stuck.id)
            )

        async def ready() -> bool:
            return all((await p.readiness()).values())

        await eventually(ready, timeout=60)
    finally:
        await p.stop()
