"""What partners consume from their topics, logged as `consulted` (contract section 12:
`via: topic`, `sub`: the consumer group, logged by records from the groups' committed
offsets, within a minute).

An agency, the neighbourhood team and ops read their topics with consumer groups of their
own prefixes (`idva.`, `neighbourhood-team.`, `ops.`: section 8). What a group has
committed is what it has consumed. Every round (15 s by default) records lists those
groups, reads each one's committed offsets and, for a group that has committed past
records not yet logged, reads those records from the topic and logs ONE `consulted` entry
per group and topic (at most 500 ids an entry: `shared.audit` splits larger ones): `sub`
the group id, `route` the topic, `recipient` the agency, `neighbourhood-team` or `ops`.

Exactly once. `partner_offsets` holds, per group and partition, the offset ranges
[from_offset, to_offset) already logged: rows are only inserted, in the same transaction
as the entries staged in records' outbox. Two rounds racing over the same range (replicas)
insert the same primary key: the second one's transaction fails and takes its entries
with it. A group seen for the first time is logged from offset 0: everything it has
committed past that the log still holds (what retention deleted before, it cannot have
read: a new group starts where the log starts, or later). A group that rewinds (its
offsets reset) re-reads records it was already logged as consulting; they are logged
again only past its furthest logged offset.

What the ids and subjects of each topic's records are: `records.offsets`.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Container, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka.errors import KafkaError
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from records.offsets import PRINCIPAL, NoProgress, PartnerBus, consumed_items, resource_of
from shared import audit
from shared.config import ServiceSettings
from shared.kafka_security import ACL_TABLE, client_options
from shared.periodic import PeriodicJob
from shared.service import Platform

log = logging.getLogger(__name__)
S = TypeVar("S", bound=ServiceSettings)

SEEN = -1
"""The `from_offset` of the row [-1, 0) that marks a group first seen on a partition at
offset 0: it is known there from then on, so what it consumes next and retention deletes
before a round sees it is still logged (by position)."""
GROUP_ID_LENGTH = 255
PARTNER_PREFIXES: tuple[str, ...] = ACL_TABLE[PRINCIPAL].described_groups
"""The group-id prefixes whose consumption is logged: those records may describe."""


def partner_offsets_table(metadata: MetaData) -> Table:
    """The ranges of each group's committed records already logged: insert-only (the
    records role needs SELECT and INSERT, no sequence). The primary key is what makes a
    range logged once."""
    return Table(
        "partner_offsets",
        metadata,
        Column("group_id", String(GROUP_ID_LENGTH), primary_key=True),
        Column("topic", String(249), primary_key=True),
        Column("partition", Integer, primary_key=True, autoincrement=False),
        Column("from_offset", BigInteger, primary_key=True, autoincrement=False),
        Column("to_offset", BigInteger, nullable=False),
        Column("logged_at", DateTime(timezone=True), nullable=False),
    )


def recipient_of(group: str, prefixes: Sequence[str] = PARTNER_PREFIXES) -> str | None:
    """The partner a group belongs to (`idva.caseworkers` -> `idva`); None: not a partner's."""
    return next((p[:-1] for p in prefixes if group.startswith(p) and len(group) > len(p)), None)


def group_key(group: str) -> str:
    """A group's id as `partner_offsets` keeps it: as it is, or hashed when longer than
    the column (Kafka does not bound it; a long id must not stop the rounds)."""
    if len(group) <= GROUP_ID_LENGTH:
        return group
    return "sha256:" + hashlib.sha256(group.encode()).hexdigest()


def _row(
    group: str, topic: str, partition: int, start: int, end: int, now: datetime
) -> dict[str, Any]:
    return {
        "group_id": group_key(group),
        "topic": topic,
        "partition": partition,
        "from_offset": start,
        "to_offset": end,
        "logged_at": now,
    }


def utc_now() -> datetime:
    return datetime.now(UTC)


async def logged_up_to(
    session: AsyncSession, table: Table, group: str, topic: str, partition: int
) -> int | None:
    """Where the group's logged records of this partition end (None: none logged yet)."""
    c = table.c
    found = (
        await session.execute(
            select(c.to_offset)
            .where(c.group_id == group_key(group), c.topic == topic, c.partition == partition)
            .order_by(c.from_offset.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)


async def _log_topic(
    platform: Platform[Any],
    bus: PartnerBus,
    table: Table,
    group: str,
    recipient: str,
    topic: str,
    committed: Mapping[int, int],
    limit: int,
    now: datetime,
) -> int:
    """One group's new records of one topic: one entry (per 500 ids) and the ranges'
    rows, in one transaction. How many records it logged."""
    async with platform.sessions() as session:
        marks = {p: await logged_up_to(session, table, group, topic, p) for p in committed}
    secret = platform.settings.hub.pseudonym_key
    rows: list[dict[str, Any]] = []
    items: list[audit.Item] = []
    count = 0
    for partition, end in sorted(committed.items()):
        mark = marks[partition]
        if mark is None and end <= 0:
            # seen at its start, having consumed nothing: known from here (see SEEN)
            rows.append(_row(group, topic, partition, SEEN, 0, now))
            continue
        start = mark or 0
        if end <= start:
            continue
        limited = min(end, start + limit)
        found = await consumed_items(
            bus, secret, topic, partition, start, limited, mark is not None
        )
        items += found.items
        count += found.count
        rows.append(_row(group, topic, partition, start, found.reached, now))
    if not rows:
        return 0
    entry = audit.Entry(
        PRINCIPAL, "consulted", group, "topic", topic, resource_of(topic), recipient=recipient
    )
    try:
        async with platform.uow() as session:
            await session.execute(table.insert(), rows)
            if items:  # none: only offsets past the log's end, or deleted before it began
                await audit.log(platform.outbox, session, entry, items, now)
    except IntegrityError:
        log.info("partner consumption: %s on %s logged by another round", group, topic)
        return 0
    return count


async def run_once(
    platform: Platform[Any],
    bus: PartnerBus,
    table: Table,
    *,
    only: Container[str] | None = None,
    limit: int = 5000,
    now: datetime | None = None,
) -> int:
    """Log every partner group's consumption not logged yet; how many records were.

    `only` narrows the groups to these ids (tests); `limit` bounds the records read per
    partition in one round (a first-seen group's history is logged over several rounds).
    A group or topic that cannot be read now is skipped, with a warning, and tried again
    next round (the others are logged): nothing is marked logged that was not."""
    logged = 0
    for group in await bus.groups():
        recipient = recipient_of(group)
        if recipient is None or (only is not None and group not in only):
            continue
        by_topic: dict[str, dict[int, int]] = defaultdict(dict)
        try:
            for (topic, partition), offset in (await bus.committed(group)).items():
                by_topic[topic][partition] = offset
        except KafkaError as exc:
            log.warning("partner consumption: %s: %s; next round", group, type(exc).__name__)
        for topic, committed in sorted(by_topic.items()):
            try:
                logged += await _log_topic(
                    platform,
                    bus,
                    table,
                    group,
                    recipient,
                    topic,
                    committed,
                    limit,
                    now or utc_now(),
                )
            except (KafkaError, NoProgress, SQLAlchemyError) as exc:
                # one group's or topic's fault must not stop the others being logged
                log.warning(
                    "partner consumption: %s on %s: %s; next round",
                    group,
                    topic,
                    type(exc).__name__,
                )
    return logged


class PartnerConsumption(PeriodicJob[S]):
    """Logs what the partners' consumer groups have committed past, every `interval`
    seconds (15: well within the contract's minute), by one replica at a time.

    Wired in records' app.py next to the other jobs, started and stopped with them:
    `PartnerConsumption[Settings](store.partner_offsets, settings.partners_interval_seconds,
    clock=clock)`. It connects as the `records` principal (`client_options`)."""

    name = "records.partner-consumption"
    what = "partner record(s) logged as consulted"

    def __init__(
        self,
        table: Table,
        interval: float = 15.0,
        *,
        only: Container[str] | None = None,
        limit: int = 5000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(interval)
        self._table = table
        self._only = only
        self._limit = limit
        self._clock = clock

    async def round(self, platform: Platform[S]) -> int:
        settings = platform.settings.hub
        security = client_options(PRINCIPAL, settings)
        try:
            async with PartnerBus(settings.kafka_bootstrap, security) as bus:
                return await run_once(
                    platform,
                    bus,
                    self._table,
                    only=self._only,
                    limit=self._limit,
                    now=self._clock(),
                )
        except (KafkaError, OSError) as exc:
            # the broker unreachable: a warning, not a failed start-up; next round retries
            log.warning("partner consumption: %s; next round", type(exc).__name__)
            return 0
