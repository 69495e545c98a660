"""The transactional outbox: state and outgoing events in one transaction, then a relay.

A service writes its events into the `outbox` table in the same transaction as its
state. The relay publishes committed rows in order and marks them sent. A crash
between publish and mark re-publishes on restart; consumers dedupe on `ce_id`.

Nothing stops the relay: a row the broker refuses for good (too large, invalid) goes to
the dead-letter topic and the rows after it go on (`shared.refusals` says which failures
are the row's own); an outage is retried, and a relay stuck for over a minute makes the
service unready (`stuck`).

On PostgreSQL several replicas of a service share one outbox: each batch is taken
under a transaction-scoped advisory lock, so only one relay publishes at a time and
the rows leave in id order (per key, the order they were committed in). SQLite is
one process's file: its relay is alone by construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.errors import KafkaError
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import SessionFactory, at_commit, lock_key, unit_of_work, utc
from shared.envelope import CloudEvent
from shared.kafka.failures import describe
from shared.kafka.producer import EventProducer
from shared.metrics import Metrics
from shared.refusals import carries_payload, dead_letter_headers, stub, verdict
from shared.tables import MessageTables
from shared.telemetry import INCIDENT_ID, extract_context, inject_headers
from shared.topics import DEADLETTER

log = logging.getLogger(__name__)


def outbox_row(
    topic: str, key: str | None, event: CloudEvent, trace: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The outbox row of `event` for `topic`: in the trace the event carries, else in
    `trace` (a handler's, captured when the row is made later, at commit), else in the
    trace current now (the one it was caused in)."""
    headers = {k: v.decode() for k, v in event.headers()}
    headers.update(dict(event.trace_headers) or (inject_headers() if trace is None else trace))
    return {
        "event_id": event.id,
        "topic": topic,
        "key": key,
        "headers": headers,
        "payload": event.value().decode(),
        "created_at": datetime.now(UTC),
    }


class Outbox:
    """Where handlers put the events they emit, inside their own transaction."""

    def __init__(self, tables: MessageTables) -> None:
        # one statement, built once: each row only binds its values (building an INSERT
        # with `.values()` per event cost more than running it)
        self._insert = tables.outbox.insert()

    async def add(
        self, session: AsyncSession, topic: str, key: str | None, event: CloudEvent
    ) -> None:
        """Stage `event` for `topic`; it is published only if the transaction commits.

        In a transaction made set-wise (`set_wise`) the row is kept in the session and
        written with the transaction's other rows, in the order added, at its end."""
        row = outbox_row(topic, key, event)
        if session.info.get(_SET_WISE):
            if session.in_nested_transaction():
                # staged, it would outlive the savepoint's rollback; written at once, the
                # rows staged before it (or it) would come out of order
                raise RuntimeError("a set-wise outbox cannot take rows inside a savepoint")
            rows: list[dict[str, Any]] | None = session.info.get(_ROWS)
            if rows is None:
                try:
                    at_commit(session, _ROWS, self._write_staged)
                except RuntimeError:  # not a unit of work's session: written at once
                    session.info.pop(_SET_WISE)
                    await session.execute(self._insert, row)
                    return
                rows = session.info[_ROWS] = []
            rows.append(row)
            return
        await session.execute(self._insert, row)

    async def add_rows(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        """Rows made with `outbox_row`, in one statement (an executemany), in this order:
        the relay publishes by row id, so each key's events keep their order."""
        if rows:
            await session.execute(self._insert, rows)

    async def _write_staged(self, session: AsyncSession) -> None:
        """The rows staged so far, in the order added."""
        await self.add_rows(session, session.info.pop(_ROWS, []))


_SET_WISE = "shared.outbox.set_wise"
_ROWS = "shared.outbox.rows"


def set_wise(session: AsyncSession) -> None:
    """From now on in this unit of work (`shared.db.unit_of_work`), `Outbox.add` stages its
    rows and writes them all in one statement when the transaction ends, instead of one
    INSERT per event: a consumer's fetched batch shares one transaction, so its events
    cost one statement. Outside a unit of work it changes nothing. Opt-in, per
    transaction: a service that reads its own outbox rows back inside the transaction
    must not turn it on, nor one that adds rows inside a savepoint (`begin_nested`):
    `add` refuses that (RuntimeError), as a staged row would outlive the savepoint's
    rollback."""
    session.info[_SET_WISE] = True


@dataclass(frozen=True)
class Retention:
    """How long sent events and processed ids are kept. The inbox must outlive the topics'
    retention (Kafka's default is 7 days), or a very late redelivery could act twice."""

    published_outbox: timedelta = timedelta(days=7)
    processed_inbox: timedelta = timedelta(days=30)


def relay_lock_id(table: str) -> int:
    """The advisory lock key of an outbox (a stable signed 64-bit number)."""
    return lock_key(f"mash-outbox-relay:{table}")


STUCK_AFTER = 60.0
"""Seconds a relay may fail (or hang) with rows pending before its service is unready."""

SUSPECT_TRIES = 3
"""Times a row whose refusal may be the broker's (`shared.refusals.SUSPECT`) is sent alone
before it is dead-lettered."""


@dataclass
class Sent:
    """What became of one row's send: `error` None when the broker has it; `queued` False
    when the producer refused it before sending (its own size or encoding)."""

    row: Any
    error: BaseException | None
    queued: bool


class OutboxRelay:
    """Publishes committed outbox rows to Kafka, oldest first, and marks them sent.

    A batch's sends are queued together and awaited together (acks=all, idempotent
    producer: order per partition holds); each send's own outcome then decides its row:
    sent, dead-lettered (refused for good), or left for the next round (an outage stops
    the round there). The rows handled are marked in one UPDATE. The relay runs again at
    once while rows remain, and otherwise sleeps until a commit wakes it (`wake`), or
    `poll_seconds` at most (rows committed by another replica). A round that read fewer
    rows than a batch and handled them all has left nothing behind but what was committed
    since, whose commit woke it: it sleeps at once, without reading the outbox again. The
    backlog gauges are measured by an idle round at most every `measure_seconds` (they are
    scraped far less often), and by every failing round.

    A row the broker refuses within a batch may be refused for a batch-mate's fault (the
    broker judges record batches), so it is first sent again alone; only a row refused
    alone (or by the producer itself, before sending) is dead-lettered.
    """

    def __init__(
        self,
        tables: MessageTables,
        sessions: SessionFactory,
        producer: EventProducer,
        metrics: Metrics,
        tracer: Tracer,
        poll_seconds: float = 0.2,
        batch_size: int = 1000,
        retention: Retention | None = None,
        lock_id: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        stuck_after: float = STUCK_AFTER,
        measure_seconds: float = 1.0,
    ) -> None:
        self._table = tables.outbox
        self._outbox = Outbox(tables)
        self._service = metrics.service
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
        self._clock = clock
        self.stuck_after = stuck_after
        self._round_since: float | None = None
        self._failing_since: float | None = None
        self._suspect: tuple[int, int] | None = None  # (row id, times refused alone)
        self.busy_retry_seconds = 0.005
        self._measure_every = measure_seconds
        self._measured_at = -math.inf
        self._drained = False  # the last round handled every row there was
        table = self._table
        self._read_pending = (
            select(table)
            .where(table.c.published_at.is_(None))
            .order_by(table.c.id)
            .limit(batch_size)
        )
        self._mark_published = (
            update(table)
            .where(table.c.id.in_(bindparam("ids", expanding=True)))
            .values(published_at=bindparam("at"))
        )

    def wake(self) -> None:
        """Tell the relay that something was committed (it also polls)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def stuck(self) -> bool:
        """True when the relay has failed every round for longer than `stuck_after`, or one
        round has hung that long (the idempotent producer waits out an outage forever).
        A failing round always had rows pending: with none, a round only reads."""
        since = [t for t in (self._failing_since, self._round_since) if t is not None]
        return bool(since) and self._clock() - min(since) > self.stuck_after

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
            self._round_since = self._clock()
            try:
                published = await self.publish_pending()
                failures = 0
                self._failing_since = None
            except asyncio.CancelledError:
                raise
            except KafkaError as exc:
                failures += 1
                self._failing_since = self._failing_since or self._round_since
                log.warning("outbox relay: kafka error %s; recreating producer", type(exc).__name__)
                with contextlib.suppress(Exception):
                    await self._producer.restart()
                published = 0
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any fault
                failures += 1
                self._failing_since = self._failing_since or self._round_since
                log.warning("outbox relay: %s", type(exc).__name__)
                published = 0
            finally:
                self._round_since = None
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
            elif not published or self._drained:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll):
                        await self._wake.wait()
                self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; the number handled (sent or dead-lettered),
        -1 when another relay holds this outbox (PostgreSQL). Raises on an outage, after
        marking the rows handled before it."""
        # the wake is consumed here: a commit after this point wakes the next round
        self._wake.clear()
        self._drained = False
        if self._dialect() == "postgresql":
            return await self._publish_pending_locked()
        # the polling itself is not part of any incident's trace: only the publish is
        with suppress_instrumentation():
            rows = await self.fetch_batch()
        if not rows:
            if self._measure_due():
                with suppress_instrumentation():
                    await self.measure_backlog()
            return 0
        return await self._publish_all(rows)

    async def _publish_all(self, rows: list[Any]) -> int:
        """`publish`, noting whether the round left nothing behind (`_drained`)."""
        handled = await self.publish(rows)
        self._drained = handled == len(rows) < self._batch
        return handled

    def _measure_due(self) -> bool:
        """Whether an idle round measures the backlog (at most every `measure_seconds`)."""
        now = time.monotonic()
        if now - self._measured_at < self._measure_every:
            return False
        self._measured_at = now
        return True

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
                if self._measure_due():
                    with suppress_instrumentation():
                        await self._measure(session)
                return 0
            # marked (and committed) while this transaction still holds the lock
            return await self._publish_all(rows)

    def _dialect(self) -> str:
        bind = self._sessions.kw.get("bind")
        return str(bind.dialect.name) if bind is not None else ""

    def _pending(self) -> Any:
        """The next batch of rows to publish (the statement, built once)."""
        return self._read_pending

    async def _mark(self, session: AsyncSession, ids: list[int]) -> None:
        """Mark `ids` published now (the statement built once, the ids bound per call)."""
        await session.execute(self._mark_published, {"ids": ids, "at": datetime.now(UTC)})

    async def fetch_batch(self) -> list[Any]:
        async with self._sessions() as session:
            return list((await session.execute(self._pending())).all())

    async def publish(self, rows: list[Any]) -> int:
        """Send `rows` and settle each by its own outcome; mark the rows handled (sent or
        dead-lettered), in order up to the first that must wait; their number."""
        if self._suspect is not None and rows[0].id == self._suspect[0]:
            rows = rows[:1]  # a row refused in a batch: now alone
        handled: list[int] = []
        restart = False
        try:
            for sent in await self.send(rows):
                row, error = sent.row, sent.error
                if error is None:
                    handled.append(row.id)
                    self._metrics.produced.labels(row.topic).inc()
                    if self._suspect and self._suspect[0] == row.id:
                        self._suspect = None  # it was a batch-mate's fault, or the broker's
                    continue
                judged = verdict(error)
                if judged == "outage":
                    raise error
                # a record batch the broker refused leaves a gap in the producer's sequence
                # numbers for its partition: only a new producer sends there again
                restart = restart or sent.queued
                if sent.queued and len(rows) > 1:
                    self._suspect = (row.id, 0)
                    self._wake.set()  # run again at once, the suspect alone
                    break
                if judged == "suspect":
                    same = self._suspect is not None and self._suspect[0] == row.id
                    tries = self._suspect[1] + 1 if self._suspect and same else 1
                    self._suspect = (row.id, tries)
                    if tries < SUSPECT_TRIES:
                        raise error  # the round fails: a new producer, and a pause
                await self.dead_letter(row, error)
                self._suspect = None
                handled.append(row.id)
        except BaseException:
            restart = False  # a failed round gets a new producer from `_run` (KafkaError)
            raise
        finally:
            if handled:
                with suppress_instrumentation():
                    await self.mark_published(handled)
            if restart:
                await self._producer.restart()
        return len(handled)

    async def send(self, rows: list[Any]) -> list[Sent]:
        """Queue every row, then wait for each one's acknowledgement (acks=all). A row the
        producer cannot even queue for an outage ends the queueing: the rows after it would
        overtake it."""
        queued: list[tuple[Any, asyncio.Future[Any] | BaseException]] = []
        for row in rows:
            headers = {str(k): str(v) for k, v in dict(row.headers).items()}
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
                try:
                    value = row.payload.encode()
                    queued.append(
                        (row, await self._producer.send(row.topic, value, row.key, headers))
                    )
                except Exception as exc:  # noqa: BLE001 - judged by the caller, row by row
                    queued.append((row, exc))
                    if verdict(exc) == "outage":
                        break
        futures = [f for _, f in queued if isinstance(f, asyncio.Future)]
        acks = iter(await asyncio.gather(*futures, return_exceptions=True))
        sent = []
        for row, f in queued:
            if not isinstance(f, asyncio.Future):
                sent.append(Sent(row, f, queued=False))
                continue
            ack = next(acks)
            if isinstance(ack, asyncio.CancelledError):  # the producer was closed under it
                ack = KafkaError("send cancelled")
            sent.append(Sent(row, ack if isinstance(ack, BaseException) else None, queued=True))
        return sent

    async def dead_letter(self, row: Any, error: BaseException) -> None:
        """Put a row refused for good on the dead-letter topic: its headers, the error and
        its origin, and its payload (a small stub instead when the payload is what is too
        large). Counted where the dead-letter alert looks."""
        headers = dead_letter_headers(
            {str(k): str(v) for k, v in dict(row.headers).items()},
            error,
            row.topic,
            row.event_id,
            self._service,
        )
        placeholder = stub(row.topic, row.event_id, len(row.payload), error)
        value = row.payload.encode() if carries_payload(error) else placeholder
        try:
            await (await self._producer.send(DEADLETTER, value, row.key, headers))
        except Exception as again:
            if value is placeholder or verdict(again) != "refused":
                raise
            await self._producer.restart()  # the refused batch left a sequence gap
            await (await self._producer.send(DEADLETTER, placeholder, row.key, headers))
        self._metrics.deadlettered.labels(row.topic).inc()
        # the series every service starts at 0: the alert sees even the first one
        self._metrics.produced.labels(DEADLETTER).inc()
        log.warning(
            "outbox relay: dead-lettered event %s for %s: %s",
            row.event_id,
            row.topic,
            describe(error),
        )

    async def mark_published(self, ids: list[int]) -> None:
        async with unit_of_work(self._sessions) as session:
            await self._mark(session, ids)

    async def purge(self, now: datetime, batch: int = 5000) -> int:
        """Forget published events and processed ids once no redelivery can need them; the
        number of events deleted. Each deletion of events is logged as erased, in its own
        transaction (`shared.erasure`); inbox rows hold only ids, and are not."""
        # shared.audit imports this module (for Outbox): imported once both exist
        from shared.erasure import purge_published

        erased = 0
        with suppress_instrumentation():
            while True:
                async with unit_of_work(self._sessions) as session:
                    deleted = await purge_published(
                        session,
                        self._table,
                        self._outbox,
                        self._service,
                        now - self._retention.published_outbox,
                        batch,
                        now,
                    )
                erased += deleted
                if deleted < batch:
                    break
            async with unit_of_work(self._sessions) as session:
                await session.execute(
                    delete(self._inbox).where(
                        self._inbox.c.processed_at < now - self._retention.processed_inbox
                    )
                )
        return erased

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
