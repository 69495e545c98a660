"""Triage's consumer handles a fetched batch set-wise (its decisions and outbox rows staged
and written in one statement each when the transaction ends): the same incidents,
decisions, re-grades, listings and outbox rows (decisions, summaries and log entries,
in the order the relay publishes them) as one event per transaction, on SQLite and on
PostgreSQL; a poison event in the middle of a batch fails the batch, and going one at a
time dead-letters it alone and processes the rest once.

Each side is triage's own consumer loop (`ConsumerLoop.process_batch`, the fetch in one
transaction; `ConsumerLoop.process`, one record per transaction) over the same records,
in two databases, at the same times (a clock that ticks a millisecond a handled event).
The stream: repeat victims (some known by names and date of birth only) and serial
suspects, reported out of order (late arrivals decide earlier incidents again), DASHes
after their incident (some in the same batch, so a staged decision must be seen as the
incident's latest), a MARAC listing, re-grades through the API between two batches and a
DASH after them, the very same event twice and one incident under a second event id."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mash_tools.testing import TopicReader
from shared.envelope import CloudEvent
from shared.kafka import BatchHandler, ConsumerLoop, PoisonMessage
from shared.kafka.table import dispatch
from shared.schemas.v1 import RiskLevel
from shared.service import Platform
from shared.topics import DEADLETTER, DECISIONS, INCIDENTS, MARAC
from tests.builders import dash_body, settings_for
from tests.integration.set_wise import (
    Stream,
    as_records,
    counted,
    dead_lettered_alone,
    loop_of,
    one_by_one,
    outbox_row,
    second_database,
    ticking,
)
from tests.integration.triage.kit import dash_event, listing_event, reported_event
from triage import handlers, store
from triage.app import MIGRATIONS
from triage.config import Settings
from triage.consumer import consumers
from triage.handlers import RegradeOrder, Triage

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@dataclass
class Side:
    """One database's triage: its platform, handlers and consumer loop (not started)."""

    platform: Platform[Settings]
    triage: Triage
    loop: ConsumerLoop


@asynccontextmanager
async def triage_loop(
    bootstrap: str, database_url: str, group: str, clock: Callable[[], datetime]
) -> AsyncIterator[Side]:
    """Triage's storage and producer (for dead letters) and its consumer's loop, not
    started (the test hands it the records), its relay not running (the outbox rows stay
    to be compared, in the order the relay would publish them)."""
    settings = settings_for(Settings, bootstrap, database_url, group)
    platform = Platform("triage", settings, store.messages, MIGRATIONS)
    await platform.start([], relay=False)
    triage = Triage.on(platform)
    handler = dispatch(handlers.EVENTS, triage, clock, handlers.prepare)  # as `consumers`
    loop = loop_of(platform, [INCIDENTS, MARAC], handler, bootstrap, f"mash-triage-{group}")
    try:
        yield Side(platform, triage, loop)
    finally:
        await platform.stop()


def person(role: str, n: int, with_id: bool) -> dict[str, Any]:
    found: dict[str, Any] = {
        "given_name": f"{role}{chr(65 + n)}",
        "family_name": "Setwise",
        "date_of_birth": f"19{75 + n}-0{1 + n % 9}-1{n % 9}",
    }
    if with_id:
        found["person_id"] = f"{role[0]}SW{n}"
    return found


@dataclass
class Plan:
    before: Stream
    first: Stream
    regraded: list[str]
    second: Stream


def after_its_incident(rng: random.Random, events: Stream, dash: CloudEvent, of: str) -> None:
    """Put a DASH somewhere after its incident (one victim's events share a partition)."""
    at = next(n for n, (e, _) in enumerate(events) if e.subject == of)
    events.insert(rng.randint(at + 1, len(events)), (dash, INCIDENTS))


def stream(seed: int) -> Plan:
    """Incidents of 6 victims (two known by names only) and 3 serial suspects, shuffled."""
    rng = random.Random(seed)
    victims = [person("Vic", n, with_id=n % 3 != 0) for n in range(6)]
    suspects = [person("Sus", n, with_id=n != 1) for n in range(3)]

    def incident() -> CloudEvent:
        extra: dict[str, Any] = {"area": "southampton"}
        if rng.random() < 0.8:
            extra["suspect"] = rng.choice(suspects)
        if rng.random() < 0.6:
            extra["dash"] = dash_body(rng.choice([3, 9, 12, 14, 16]))
        at = NOW - timedelta(days=rng.randint(1, 330), minutes=rng.randint(0, 999))
        return reported_event(at, rng.choice(victims), **extra)

    before = [(incident(), INCIDENTS) for _ in range(4)]
    reported = [incident() for _ in range(22)]
    first: Stream = [(one, INCIDENTS) for one in reported]
    for one in rng.sample(reported, 6):  # a later DASH, some in the batch of the incident
        dash = dash_event(subject(one), rng.choice([5, 14, 17]))
        after_its_incident(rng, first, dash, subject(one))
    listed = reported[2]
    at = NOW - timedelta(days=2)
    first.append((listing_event(listed.data["victim"], at, [subject(listed)]), MARAC))
    regraded = [subject(before[0][0]), subject(reported[5])]
    second: Stream = [(incident(), INCIDENTS) for _ in range(10)]
    second += [
        (dash_event(regraded[1], 18), INCIDENTS),  # a DASH after the CRU's re-grade
        (dash_event(subject(before[1][0]), 4), INCIDENTS),
        (first[0][0], INCIDENTS),  # the very same event again
        (replace(reported[1], id=str(uuid.uuid4())), INCIDENTS),  # another event id
    ]
    rng.shuffle(second)
    return Plan(before, first, regraded, second)


def subject(event: CloudEvent) -> str:
    assert event.subject is not None
    return event.subject


async def regrade(side: Side, plan: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CRU re-grades two incidents, with the same re-grade ids on both sides."""
    ids = random.Random(7)
    monkeypatch.setattr(handlers, "uuid4", lambda: uuid.UUID(int=ids.getrandbits(128)))
    levels: list[RiskLevel] = ["high", "standard"]
    for n, incident_id in enumerate(plan.regraded):
        order = RegradeOrder(levels[n], "seen by the CRU", "officer", "tester")
        await handlers.regrade(side.triage, uuid.UUID(incident_id), order, NOW + timedelta(hours=n))


_SEQ = list(store.incident_people.c.keys()).index("seq")


async def kept(side: Side) -> dict[str, list[Any]]:
    """Triage's store and outbox as kept, every column (outbox: as published), in order."""
    tables = {
        "incidents": (store.incidents, store.incidents.c.incident_id),
        "people": (store.incident_people, store.incident_people.c.seq),
        "decisions": (store.decisions, store.decisions.c.decision_id),
        "regrades": (store.regrades, store.regrades.c.regrade_id),
        "listings": (store.marac_listings, store.marac_listings.c.event_id),
    }
    found: dict[str, list[Any]] = {}
    async with side.platform.sessions() as session:
        for name, (table, order) in tables.items():
            found[name] = [tuple(r) for r in await session.execute(select(table).order_by(order))]
        outbox = store.messages.outbox
        rows = await session.execute(select(outbox).order_by(outbox.c.id))
        found["outbox"] = [outbox_row(r) for r in rows]
    return found


async def test_batches_decide_and_publish_exactly_as_one_event_per_transaction(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = stream(seed=23)
    other = await second_database(database_url, request, tmp_path)
    async with (
        triage_loop(kafka_bootstrap, database_url, f"{group}-set", ticking(NOW)) as as_set,
        triage_loop(kafka_bootstrap, other, f"{group}-one", ticking(NOW)) as alone,
    ):
        # the service's own consumer declares the batch step this loop is given
        assert isinstance(consumers(as_set.triage)[0].handler, BatchHandler)
        for side in (as_set, alone):
            await one_by_one(side.loop, as_records(plan.before))
        offset = len(plan.before)
        with counted(as_set.platform) as set_wise_statements:
            await as_set.loop.process_batch(as_records(plan.first, offset))  # raises if failed
        with counted(alone.platform) as one_by_one_statements:
            await one_by_one(alone.loop, as_records(plan.first, offset))
        for side in (as_set, alone):
            await regrade(side, plan, monkeypatch)
        offset += len(plan.first)
        await as_set.loop.process_batch(as_records(plan.second, offset))
        await one_by_one(alone.loop, as_records(plan.second, offset))
        set_wise, one_each = await kept(as_set), await kept(alone)
    for name in set_wise:
        assert set_wise[name] == one_each[name], name
    # and as a set: the history read once, decisions and outbox rows written together
    # (statements, not time: a count does not depend on the machine)
    # (SQLite 147 against 554, PostgreSQL 190 against 650, with its holds)
    assert len(set_wise_statements) * 2 < len(one_by_one_statements)
    # the stream is what it says: repeats, knock-on and later decisions, every kind of entry
    assert len(set_wise["incidents"]) == 4 + 22 + 10
    decided = [json.loads(json.dumps(r[-1])) for r in set_wise["decisions"]]
    assert any(d["prior_incidents_12m"] for d in decided)
    assert max(r[2] for r in set_wise["decisions"]) >= 3  # versions: DASH, re-grade, knock-on
    assert len(set_wise["regrades"]) == 2
    assert len(set_wise["listings"]) == 1
    operations = {p.get("operation") for t, _, _, p in set_wise["outbox"] if "audit" in t}
    assert {"combined", "altered"} <= operations
    topics = [t for t, *_ in set_wise["outbox"]]
    assert topics.count(DECISIONS) == len(set_wise["decisions"])


async def test_a_poison_event_fails_the_batch_and_alone_is_dead_lettered_by_itself(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    plan = stream(seed=5)
    batch = plan.before + plan.first
    poison = dash_event(str(uuid.uuid4()), 12)  # a DASH of an incident triage never saw
    middle = len(batch) // 2
    batch.insert(middle, (poison, INCIDENTS))
    other = await second_database(database_url, request, tmp_path)

    def at_noon() -> datetime:  # the failed batch's handlers ran too: one time for all
        return NOW

    async with (
        triage_loop(kafka_bootstrap, database_url, f"{group}-set", at_noon) as as_set,
        triage_loop(kafka_bootstrap, other, f"{group}-one", at_noon) as alone,
        TopicReader(kafka_bootstrap, DEADLETTER) as dlq,
    ):
        records = as_records(batch)
        with pytest.raises(PoisonMessage):
            await as_set.loop.process_batch(records)
        assert (await kept(as_set))["decisions"] == []  # nothing of the batch committed
        await one_by_one(as_set.loop, records)  # what the loop does next
        await one_by_one(alone.loop, [r for n, r in enumerate(records) if n != middle])
        set_wise, one_each = await kept(as_set), await kept(alone)
        # the same, in the same order, but for the people's arrival numbers: PostgreSQL's
        # sequence does not give back the numbers the failed batch took
        for side in (set_wise, one_each):
            side["people"] = [r[:_SEQ] + r[_SEQ + 1 :] for r in side["people"]]
        assert set_wise == one_each
        assert len(set_wise["incidents"]) == 4 + 22  # the rest, once
        await dead_lettered_alone(dlq, poison.id, records, "PoisonMessage")
