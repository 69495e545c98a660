"""Records' consumer chains a fetched batch as a set (`records.chaining`): the same chains,
entry for entry, as one event per transaction, on SQLite and on PostgreSQL (as the
service's insert-only role); a forged entry in the middle of a batch fails the batch as
poison, and going one at a time dead-letters it alone and chains the rest as before.

Each side is the service's own consumer loop (`ConsumerLoop.process_batch`, the fetch in
one transaction; `ConsumerLoop.process`, one record per transaction) over the same
records, in two databases."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mash_tools.testing import TopicReader, create_database
from records import store
from records.app import MIGRATIONS
from records.consumer import consumers
from records.handlers import Records, verify
from shared.envelope import CloudEvent
from shared.kafka import ConsumerLoop, PoisonMessage
from shared.service import Platform
from shared.topics import DEADLETTER, audit_topic
from tests.integration.records.kit import entry, event_of, records_settings, service_database
from tests.integration.set_wise import as_records, dead_lettered_alone, loop_of, one_by_one

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
SERVICES = ("notify", "triage", "intake", "marac")


@dataclass
class Side:
    """One database's records: its platform and its log consumer's loop."""

    platform: Platform[Any]
    records: Records
    loop: ConsumerLoop


@asynccontextmanager
async def records_loop(bootstrap: str, database_url: str, group: str) -> AsyncIterator[Side]:
    """Records' storage and producer (for dead letters) and its log consumer's loop, not
    started: the test hands it the records. Each event handled is processed at its own
    time (the clock ticks a millisecond a call), so a batch must keep each one's."""
    url, owner = await service_database(database_url)
    settings = records_settings(bootstrap, url, group, migrations_database_url=owner)
    platform = Platform("records", settings, store.messages, MIGRATIONS)
    await platform.start([], relay=False)
    ticks = itertools.count()
    records = Records.on(platform)
    spec = consumers(records, lambda: NOW + timedelta(milliseconds=next(ticks)))[0]
    loop = loop_of(platform, spec.topics, spec.handler, bootstrap, settings.consumer_group)
    try:
        yield Side(platform, records, loop)
    finally:
        await platform.stop()


async def second_database(database_url: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    if database_url.startswith("postgresql"):
        return await create_database(request.getfixturevalue("postgres_server"))
    return f"sqlite+aiosqlite:///{tmp / 'one-by-one.db'}"


def stream(seed: int) -> tuple[list[tuple[CloudEvent, str]], list[tuple[CloudEvent, str]]]:
    """Entries kept before (a chain that does not start at GENESIS), then a shuffled batch of
    four services' entries with people and ids (some repeated within an entry), the very
    same event twice, an entry already kept under another event id, and one repeated
    within the batch under another event id."""
    rng = random.Random(seed)
    people = [f"key-{n}" for n in range(5)]

    def some(service: str) -> Any:
        subjects = rng.sample(people, rng.randint(0, 3))
        return entry(
            service,
            "disclosed" if service == "notify" else "collected",
            at=NOW - timedelta(seconds=rng.randint(1, 900)),
            subjects=subjects + subjects[:1],
            ids=[str(uuid.uuid4()) for _ in range(rng.randint(0, 2))],
        )

    before = [some(s) for s in SERVICES[:2] for _ in range(2)]
    fresh = [some(rng.choice(SERVICES)) for _ in range(30)]
    events = [(event_of(e), audit_topic(e.service)) for e in fresh]
    events.append(events[3])  # the very same event again
    again = replace(event_of(before[1]), id=str(uuid.uuid4()))
    events.append((again, audit_topic(before[1].service)))  # kept already, another event id
    twice = replace(event_of(fresh[7]), id=str(uuid.uuid4()))
    events.append((twice, audit_topic(fresh[7].service)))  # in this batch, another event id
    rng.shuffle(events)
    return [(event_of(e), audit_topic(e.service)) for e in before], events


async def kept(side: Side) -> tuple[list[Any], list[Any], list[Any]]:
    """The store as kept: entries in chain order (every column but the row id, `stored_at`
    last), and the search rows."""
    async with side.platform.sessions() as session:
        entries = (
            await session.execute(
                select(store.entries).order_by(store.entries.c.service, store.entries.c.seq)
            )
        ).all()
        subjects = (await session.execute(select(store.entry_subjects))).all()
        ids = (await session.execute(select(store.entry_ids))).all()
    rows = [tuple(v for c, v in r._asdict().items() if c != "id") for r in entries]
    return rows, sorted(tuple(r) for r in subjects), sorted(tuple(r) for r in ids)


async def test_a_batch_is_chained_exactly_as_one_event_per_transaction(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    before, batch = stream(seed=23)
    other = await second_database(database_url, request, tmp_path)
    async with (
        records_loop(kafka_bootstrap, database_url, f"{group}-set") as as_set,
        records_loop(kafka_bootstrap, other, f"{group}-one") as alone,
    ):
        for side in (as_set, alone):
            await one_by_one(side.loop, as_records(before))
        await as_set.loop.process_batch(as_records(batch, len(before)))  # raises if it failed
        await one_by_one(alone.loop, as_records(batch, len(before)))
        set_wise, one_each = await kept(as_set), await kept(alone)
        assert set_wise == one_each
        entries = set_wise[0]
        assert len(entries) == len(before) + 30  # the repeats kept once
        assert len({row[-1] for row in entries}) == len(entries)  # stored_at: each its own
        verdict = await verify(as_set.records)
        assert (verdict.entries, verdict.broken) == (len(entries), None)


async def test_a_forged_entry_fails_the_batch_and_alone_is_dead_lettered_by_itself(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    _, batch = stream(seed=5)
    forged = entry("notify")  # names notify, on intake's topic
    middle = len(batch) // 2
    batch.insert(middle, (event_of(forged), audit_topic("intake")))
    other = await second_database(database_url, request, tmp_path)
    async with (
        records_loop(kafka_bootstrap, database_url, f"{group}-set") as as_set,
        records_loop(kafka_bootstrap, other, f"{group}-one") as alone,
        TopicReader(kafka_bootstrap, DEADLETTER) as dlq,
    ):
        records = as_records(batch)
        with pytest.raises(PoisonMessage):
            await as_set.loop.process_batch(records)
        assert (await kept(as_set))[0] == []  # nothing of the batch committed
        await one_by_one(as_set.loop, records)  # what the loop does next
        await one_by_one(alone.loop, [r for n, r in enumerate(records) if n != middle])
        # the same, but for the times of processing: the failed batch's handlers ran too
        set_wise, one_each = await kept(as_set), await kept(alone)
        assert [row[:-1] for row in set_wise[0]] == [row[:-1] for row in one_each[0]]
        assert set_wise[1:] == one_each[1:]
        assert len(set_wise[0]) == 31  # 30, and one of the entries "kept before" (not here)
        await dead_lettered_alone(dlq, str(forged.entry_id), records, "PoisonMessage")
