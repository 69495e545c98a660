"""The transactional outbox: state and outgoing events in one transaction, then a relay.

A service writes its events into the `outbox` table in the same transaction as its
state. The relay publishes committed rows in order and marks them sent. A crash
between publish and mark re-publishes on restart; consumers dedupe on `ce_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.errors import KafkaError
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import SessionFactory, unit_of_work, utc
from shared.envelope import CloudEvent
from shared.kafka import EventProducer
from shared.metrics import Metrics
from shared.tables import PlatformTables
from shared.telemetry import INCIDENT_ID, extract_context, inject_headers

log = logging.getLogger(__name__)


class Outbox:
    """Where handlers put the events they emit, inside their own transaction."""

    def __init__(self, tables: PlatformTables) -> None:
        self._table = tables.outbox

    async def add(
        self, session: AsyncSession, topic: str, key: str | None, event: CloudEvent
    ) -> None:
        """Stage `event` for `topic`; it is published only if the transaction commits."""
        headers = {k: v.decode() for k, v in event.headers()}
        # the event belongs to the trace it was caused in: the one current now
        headers.update(dict(event.trace_headers) or inject_headers())
        await session.execute(
            self._table.insert().values(
                event_id=event.id,
                topic=topic,
                key=key,
                headers=headers,
                payload=event.value().decode(),
                created_at=datetime.now(UTC),
            )
        )


@dataclass(frozen=True)
class Retention:
    """How long sent events and processed ids are kept. The inbox must outlive the topics'
    retention (Kafka's default is 7 days), or a very late redelivery could act twice."""

    published_outbox: timedelta = timedelta(days=7)
    processed_inbox: timedelta = timedelta(days=30)


class OutboxRelay:
    """Publishes committed outbox rows to Kafka, oldest first, and marks them sent."""

    def __init__(
        self,
        tables: PlatformTables,
        sessions: SessionFactory,
        producer: EventProducer,
        metrics: Metrics,
        tracer: Tracer,
        poll_seconds: float = 0.2,
        batch_size: int = 200,
        retention: Retention | None = None,
    ) -> None:
        self._table = tables.outbox
        self._sessions = sessions
        self._producer = producer
        self._metrics = metrics
        self._tracer = tracer
        self._poll = poll_seconds
        self._batch = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inbox = tables.inbox
        self._retention = retention or Retention()
        self._next_purge = 0.0
        self._stopping = False

    def wake(self) -> None:
        """Tell the relay that something was committed (it also polls)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                published = await self.publish_pending()
                failures = 0
            except asyncio.CancelledError:
                raise
            except KafkaError as exc:
                failures += 1
                log.warning("outbox relay: kafka error %s; recreating producer", type(exc).__name__)
                await self._producer.restart()
                published = 0
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any fault
                failures += 1
                log.warning("outbox relay: %s", type(exc).__name__)
                published = 0
            if failures:
                with contextlib.suppress(Exception), suppress_instrumentation():
                    await self.measure_backlog()  # a stuck relay shows as a growing age
                await asyncio.sleep(min(5.0, 0.2 * 2**failures))
                continue
            if time.monotonic() >= self._next_purge:
                with contextlib.suppress(Exception):
                    await self.purge(datetime.now(UTC))
                self._next_purge = time.monotonic() + 600
            if not published:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll):
                        await self._wake.wait()
                self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; the number published."""
        # the polling itself is not part of any incident's trace: only the publish is
        with suppress_instrumentation():
            rows = await self.fetch_batch()
        if not rows:
            with suppress_instrumentation():
                await self.measure_backlog()
            return 0
        await self.publish(rows)
        with suppress_instrumentation():
            await self.mark_published([row.id for row in rows])
        for row in rows:
            self._metrics.produced.labels(row.topic).inc()
        return len(rows)

    async def fetch_batch(self) -> list[Any]:
        stmt = (
            select(self._table)
            .where(self._table.c.published_at.is_(None))
            .order_by(self._table.c.id)
            .limit(self._batch)
        )
        async with self._sessions() as session:
            return list((await session.execute(stmt)).all())

    async def publish(self, rows: list[Any]) -> None:
        """Send every row and wait until the broker has them all (acks=all)."""
        waiting = []
        for row in rows:
            headers: dict[str, str] = dict(row.headers)
            parent = extract_context(headers)
            with self._tracer.start_as_current_span(
                f"{row.topic} publish",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation": "publish",
                    "messaging.destination.name": row.topic,
                    "messaging.message.id": row.event_id,
                    **({INCIDENT_ID: headers["ce_subject"]} if headers.get("ce_subject") else {}),
                },
            ):
                headers.update(inject_headers())
                waiting.append(
                    await self._producer.send(row.topic, row.payload.encode(), row.key, headers)
                )
        await asyncio.gather(*waiting)

    async def mark_published(self, ids: list[int]) -> None:
        async with unit_of_work(self._sessions) as session:
            await session.execute(
                update(self._table)
                .where(self._table.c.id.in_(ids))
                .values(published_at=datetime.now(UTC))
            )

    async def purge(self, now: datetime) -> None:
        """Forget published events and processed ids once no redelivery can need them."""
        with suppress_instrumentation():
            async with unit_of_work(self._sessions) as session:
                await session.execute(
                    delete(self._table).where(
                        self._table.c.published_at < now - self._retention.published_outbox
                    )
                )
                await session.execute(
                    delete(self._inbox).where(
                        self._inbox.c.processed_at < now - self._retention.processed_inbox
                    )
                )

    async def measure_backlog(self) -> int:
        """Set the backlog gauges (how many wait, and how long the oldest has waited)."""
        async with self._sessions() as session:
            backlog, oldest = (
                await session.execute(
                    select(func.count(), func.min(self._table.c.created_at))
                    .select_from(self._table)
                    .where(self._table.c.published_at.is_(None))
                )
            ).one()
        self._metrics.outbox_backlog.set(backlog)
        age = (datetime.now(UTC) - utc(oldest)).total_seconds() if oldest else 0.0
        self._metrics.outbox_oldest_age.set(max(0.0, age))
        return int(backlog)
