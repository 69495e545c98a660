"""The transactional outbox: state and outgoing events in one transaction, then a relay.

A service writes its events into the `outbox` table in the same transaction as its
state. The relay publishes committed rows in order and marks them sent. A crash
between publish and mark re-publishes on restart; consumers dedupe on `ce_id`.

On PostgreSQL several replicas of a service share one outbox: each batch is taken
under a transaction-scoped advisory lock, so only one relay publishes at a time and
the rows leave in id order (per key, the order they were committed in). SQLite is
one process's file: its relay is alone by construction.
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
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import SessionFactory, lock_key, unit_of_work, utc
from shared.envelope import CloudEvent
from shared.kafka import EventProducer
from shared.metrics import Metrics
from shared.tables import PlatformTables
from shared.telemetry import INCIDENT_ID, extract_context, inject_headers

log = logging.getLogger(__name__)


class Outbox:
    """Where handlers put the events they emit, inside their own transaction."""

    def __init__(self, tables: PlatformTables) -> None:
        # one statement, built once: each row only binds its values (building an INSERT
        # with `.values()` per event cost more than running it)
        self._insert = tables.outbox.insert()

    async def add(
        self, session: AsyncSession, topic: str, key: str | None, event: CloudEvent
    ) -> None:
        """Stage `event` for `topic`; it is published only if the transaction commits."""
        headers = {k: v.decode() for k, v in event.headers()}
        # the event belongs to the trace it was caused in: the one current now
        headers.update(dict(event.trace_headers) or inject_headers())
        await session.execute(
            self._insert,
            {
                "event_id": event.id,
                "topic": topic,
                "key": key,
                "headers": headers,
                "payload": event.value().decode(),
                "created_at": datetime.now(UTC),
            },
        )


@dataclass(frozen=True)
class Retention:
    """How long sent events and processed ids are kept. The inbox must outlive the topics'
    retention (Kafka's default is 7 days), or a very late redelivery could act twice."""

    published_outbox: timedelta = timedelta(days=7)
    processed_inbox: timedelta = timedelta(days=30)


def relay_lock_id(table: str) -> int:
    """The advisory lock key of an outbox (a stable signed 64-bit number)."""
    return lock_key(f"mash-outbox-relay:{table}")


class OutboxRelay:
    """Publishes committed outbox rows to Kafka, oldest first, and marks them sent.

    A batch's sends are queued together and awaited together (acks=all, idempotent
    producer: order per partition holds); the batch is then marked sent in one UPDATE.
    The relay runs again at once while rows remain, and otherwise sleeps until a commit
    wakes it (`wake`), or `poll_seconds` at most (rows committed by another replica).
    """

    def __init__(
        self,
        tables: PlatformTables,
        sessions: SessionFactory,
        producer: EventProducer,
        metrics: Metrics,
        tracer: Tracer,
        poll_seconds: float = 0.2,
        batch_size: int = 1000,
        retention: Retention | None = None,
        lock_id: int | None = None,
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
        self._lock_id = relay_lock_id(self._table.name) if lock_id is None else lock_id
        self.busy_retry_seconds = 0.005

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
            if published < 0:
                # another replica holds the outbox: it is mid-batch and will let go soon
                await asyncio.sleep(self.busy_retry_seconds)
            elif not published:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll):
                        await self._wake.wait()
                self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; the number published, -1 when another
        relay holds this outbox (PostgreSQL)."""
        # the wake is consumed here: a commit after this point wakes the next round
        self._wake.clear()
        if self._dialect() == "postgresql":
            return await self._publish_pending_locked()
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
        self._count(rows)
        return len(rows)

    async def _publish_pending_locked(self) -> int:
        """One batch under the outbox's advisory lock, held by a transaction from the read
        until the mark has committed: no other relay reads these rows until they are sent."""
        async with self._sessions() as session, session.begin():
            with suppress_instrumentation():
                locked = (
                    await session.execute(
                        text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": self._lock_id}
                    )
                ).scalar_one()
                if not locked:
                    return -1
                rows = list((await session.execute(self._pending())).all())
            if not rows:
                with suppress_instrumentation():
                    await self._measure(session)
                return 0
            await self.publish(rows)
            # marked (and committed) while this transaction still holds the lock
            with suppress_instrumentation():
                await self.mark_published([row.id for row in rows])
        self._count(rows)
        return len(rows)

    def _dialect(self) -> str:
        bind = self._sessions.kw.get("bind")
        return str(bind.dialect.name) if bind is not None else ""

    def _count(self, rows: list[Any]) -> None:
        for row in rows:
            self._metrics.produced.labels(row.topic).inc()

    def _pending(self) -> Any:
        return (
            select(self._table)
            .where(self._table.c.published_at.is_(None))
            .order_by(self._table.c.id)
            .limit(self._batch)
        )

    def _mark(self, ids: list[int]) -> Any:
        return (
            update(self._table)
            .where(self._table.c.id.in_(ids))
            .values(published_at=datetime.now(UTC))
        )

    async def fetch_batch(self) -> list[Any]:
        async with self._sessions() as session:
            return list((await session.execute(self._pending())).all())

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
            await session.execute(self._mark(ids))

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
            return await self._measure(session)

    async def _measure(self, session: AsyncSession) -> int:
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
