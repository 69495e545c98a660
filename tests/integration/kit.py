"""A tiny service built from the shared library alone, to test the platform's promises.

It consumes `mash.test.*` events, records each one's effect in a table (so a duplicate
effect would show), and can forward an event to a next hop through the outbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mash_tools.testing import kafka_options, platform_settings
from shared.config import ServiceSettings
from shared.envelope import CloudEvent
from shared.kafka_security import producer_of
from shared.service import ConsumerSpec, Platform
from shared.tables import platform_tables

metadata = MetaData()
tables = platform_tables(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("subject", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
)


@dataclass
class Kit:
    """A platform plus the handler that records effects and forwards to `forward_to`.

    It connects to Kafka as `principal`, the service whose rights its test needs: `triage`
    (the default) reads incidents and writes decisions, `intake` writes incidents."""

    bootstrap: str
    database_url: str
    group: str
    forward_to: str | None = None
    fail_times: int = 0
    exporters: list[Any] = field(default_factory=list)
    principal: str = "triage"

    def __post_init__(self) -> None:
        settings = ServiceSettings(
            database_url=self.database_url,
            consumer_group=f"mash-{self.principal}-{self.group}",
            consumer_offset_reset="latest",
            outbox_poll_seconds=0.05,
            max_attempts=3,
            platform=platform_settings(self.bootstrap, principal=self.principal),
        )
        self.platform = Platform("kit", settings, tables, metadata, self.exporters)
        self.failures = 0

    async def handle(self, session: AsyncSession, event: CloudEvent) -> None:
        if not event.type.startswith("mash.test."):
            return  # another test's traffic on a shared topic
        if self.failures < self.fail_times:
            self.failures += 1
            raise RuntimeError("a handler bug")
        await session.execute(
            effects.insert().values(event_id=event.id, subject=event.subject, at=datetime.now(UTC))
        )
        if self.forward_to:
            await self.platform.outbox.add(
                session,
                self.forward_to,
                event.subject,
                CloudEvent(
                    id=str(uuid.uuid4()),
                    source="/mash/test-kit",
                    type="mash.test.forwarded",
                    subject=event.subject,
                    data={"hop": 2},
                ),
            )

    def spec(self, topic: str) -> ConsumerSpec:
        return ConsumerSpec("kit", [topic], self.handle)

    async def effect_count(self, subject: str) -> int:
        async with self.platform.sessions() as session:
            return int(
                (
                    await session.execute(
                        select(func.count())
                        .select_from(effects)
                        .where(effects.c.subject == subject)
                    )
                ).scalar_one()
            )


def ping_event(subject: str, type_: str = "mash.test.ping") -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/mash/test",
        type=type_,
        subject=subject,
        data={"hello": "world"},
    )


async def produce(
    bootstrap: str,
    topic: str,
    event: CloudEvent | None = None,
    raw: bytes | None = None,
    key: bytes = b"k",
) -> None:
    """Put one message on a topic, as another service's relay would (or raw garbage),
    with the credentials of the service that writes that topic."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_options(producer_of(topic)))
    await producer.start()
    try:
        if event is not None:
            await producer.send_and_wait(topic, event.value(), key=key, headers=event.headers())
        else:
            await producer.send_and_wait(topic, raw, key=key)
    finally:
        await producer.stop()
