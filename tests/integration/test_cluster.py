"""The three-node cluster of `mash cluster` loses a node mid-stream: a producer (acks=all,
idempotent) and a consumer group go on through the failover, and every message sent is
received. The nodes are `deploy/kafka.sh up` as `mash_tools.cluster` starts them (KRaft,
replication 3, min.insync.replicas 2, SASL_SSL and the ACLs)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from mash_tools.cluster import NODES, Cluster
from mash_tools.testing import eventually, free_ports_in_a_row, kafka_options
from shared.topics import INCIDENTS

pytestmark = [pytest.mark.kafka]
MESSAGES = 300


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    data: Path = tmp_path_factory.mktemp("cluster")
    found = Cluster(
        data=data,
        kafka_port=free_ports_in_a_row(NODES),
        controller_port=free_ports_in_a_row(NODES),
        quiet=True,
    )
    try:
        for node in range(1, NODES + 1):
            await found.start_broker(node)
        await asyncio.gather(*(found.wait_broker(n) for n in range(1, NODES + 1)))
        yield found
    finally:
        await found.stop()


async def test_losing_a_node_mid_stream_loses_nothing(cluster: Cluster) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=cluster.bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=30000,
        **kafka_options("intake"),
    )
    consumer = AIOKafkaConsumer(
        INCIDENTS,
        bootstrap_servers=cluster.bootstrap,
        group_id=f"mash-triage-cluster-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_options("triage"),
    )
    sent: list[bytes] = []
    received: set[bytes] = set()

    async def consume() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                received.update(r.value for r in records)
            if batches:
                await consumer.commit()

    await producer.start()
    await consumer.start()
    reading = asyncio.create_task(consume())
    try:
        for n in range(MESSAGES):
            value = f"{n}-{uuid.uuid4()}".encode()
            await producer.send_and_wait(INCIDENTS, value, key=str(n % 17).encode())
            sent.append(value)
            if n == MESSAGES // 3:
                await eventually(lambda: len(received) >= MESSAGES // 4, timeout=60)
                await cluster.stop_broker(2, signal.SIGKILL)  # a crash, mid-stream
        await eventually(lambda: received >= set(sent), timeout=120, interval=0.5)
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        await consumer.stop()
        await producer.stop()
    assert len(sent) == MESSAGES
    assert received == set(sent)
