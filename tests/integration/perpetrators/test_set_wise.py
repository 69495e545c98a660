"""Perpetrators' consumer handles a fetched batch in one transaction as a set: a batch step
reads the batch's suspects' identities, standings and incidents once, and its writes
(identities, incidents, standings, score history, outbox rows) are staged and written a
statement per table when it ends (or before an announcement reads the store): the
same perpetrators, identities, incidents, score histories and outbox rows (in the order
the relay publishes them) as one decision per transaction, on SQLite and PostgreSQL; a
poison decision in the middle of a batch fails the batch, and going one at a time
dead-letters it alone and processes the rest once.

The stream: serial suspects (one known by names and date of birth only, one by two
person ids under the same names) against several victims, children present, decisions
out of order, later decisions of the same incident (a DASH, a re-grade) and an older one
arriving after them, decisions without a suspect, the very same event twice."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mash_tools.testing import TopicReader
from perpetrators import handlers, store
from perpetrators.app import MIGRATIONS
from perpetrators.config import Settings
from perpetrators.consumer import consumers
from shared.kafka import BatchHandler, ConsumerLoop, dispatch
from shared.schemas import TriageDecided
from shared.service import Platform
from shared.topics import (
    DEADLETTER,
    DECISIONS,
    PERPETRATOR_PRIORITISED,
    PERPETRATOR_RELEASED,
    PERPETRATORS,
)
from tests.integration.perpetrators.kit import (
    child,
    decision,
    event_of,
    new_area,
    perpetrator_settings,
    person,
)
from tests.integration.set_wise import (
    Stream,
    as_records,
    counted,
    dead_lettered_alone,
    decision_poisoned,
    loop_of,
    one_by_one,
    outbox_row,
    second_database,
    ticking,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@dataclass
class Side:
    platform: Platform[Settings]
    loop: ConsumerLoop


@asynccontextmanager
async def perpetrators_loop(
    bootstrap: str, database_url: str, group: str, clock: Callable[[], datetime]
) -> AsyncIterator[Side]:
    """Perpetrators' storage and producer (for dead letters) and its consumer's loop, not
    started, its relay not running (the outbox rows stay, to be compared)."""
    settings = perpetrator_settings(bootstrap, database_url, group)
    platform = Platform("perpetrators", settings, store.messages, MIGRATIONS)
    await platform.start([], relay=False)
    handler = dispatch(handlers.EVENTS, platform, clock, handlers.prepare)  # as `consumers`
    loop = loop_of(platform, [DECISIONS], handler, bootstrap, settings.consumer_group)
    try:
        yield Side(platform, loop)
    finally:
        await platform.stop()


def stream(seed: int) -> Stream:
    rng = random.Random(seed)
    area = new_area()
    names_only = person("suspect", 1)
    names_only.pop("person_id")
    twin = {**person("suspect", 2), "person_id": f"S2-other-{uuid.uuid4().hex[:6]}"}
    suspects = [person("suspect", 0), names_only, person("suspect", 2), twin, person("suspect", 3)]
    twin.update({k: suspects[2][k] for k in ("given_name", "family_name", "date_of_birth")})
    victims = [person("victim", n) for n in range(5)]
    events: Stream = []
    for n in range(30):
        suspect = None if n % 11 == 10 else suspects[rng.randrange(len(suspects))]
        reported = NOW - timedelta(days=rng.randint(1, 700), minutes=n)
        first = decision(
            area,
            suspect,
            rng.choice(victims),
            reported_at=reported,
            risk_level=rng.choice(["standard", "medium", "high"]),
            children=(child(n, present=rng.random() < 0.4),) if rng.random() < 0.3 else (),
            abuse_types=tuple(rng.sample(["physical", "sexual", "coercive_control"], 2)),
        )
        events.append((event_of(first), DECISIONS))
        if rng.random() < 0.3:  # a later decision of the same incident, sometimes before it
            later = first.model_copy(
                update={
                    "decision_id": uuid.uuid4(),
                    "risk_level": "high",
                    "decided_at": first.decided_at + timedelta(hours=1),
                }
            )
            events.insert(rng.randint(0, len(events)), (event_of(later), DECISIONS))
    rng.shuffle(events)
    events.append(events[3])  # the very same event again
    return events


def _rows(rows: Any, drop: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [tuple(v for k, v in r._asdict().items() if k not in drop) for r in rows]


async def kept(side: Side, drop: tuple[str, ...] = ()) -> dict[str, list[Any]]:
    """The store and outbox as kept, every column (but `drop`), in order."""
    tables = {
        "perpetrators": (store.perpetrators, store.perpetrators.c.perpetrator_id),
        "identities": (store.identities, store.identities.c.identity),
        "incidents": (store.incidents, store.incidents.c.incident_id),
        "history": (store.score_history, store.score_history.c.id),
    }
    found: dict[str, list[Any]] = {}
    async with side.platform.sessions() as session:
        for name, (table, order) in tables.items():
            found[name] = _rows(await session.execute(select(table).order_by(order)), drop)
        outbox = store.messages.outbox
        rows = await session.execute(select(outbox).order_by(outbox.c.id))
        found["outbox"] = [outbox_row(r, random_ids=(PERPETRATORS,)) for r in rows]
    return found


async def test_a_batch_scores_and_publishes_exactly_as_one_decision_per_transaction(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    events = stream(seed=23)
    half = len(events) // 2
    other = await second_database(database_url, request, tmp_path)
    async with (
        perpetrators_loop(kafka_bootstrap, database_url, f"{group}-set", ticking(NOW)) as as_set,
        perpetrators_loop(kafka_bootstrap, other, f"{group}-one", ticking(NOW)) as alone,
    ):
        await as_set.loop.process_batch(as_records(events[:half]))  # raises if it failed
        await as_set.loop.process_batch(as_records(events[half:], half))
        await one_by_one(alone.loop, as_records(events))
        set_wise, one_each = await kept(as_set), await kept(alone)
    for name in set_wise:
        assert set_wise[name] == one_each[name], name
    # the stream is what it says: serial suspects, announcements, every kind of entry
    assert len(set_wise["perpetrators"]) == 5  # the twin is another person
    assert len(set_wise["history"]) > len(set_wise["perpetrators"])
    topics = {t for t, *_ in set_wise["outbox"]}
    assert PERPETRATORS in topics
    operations = {p.get("operation") for t, _, _, p in set_wise["outbox"] if "audit" in t}
    assert operations == {"combined", "disclosed"}


async def test_a_poison_decision_fails_the_batch_and_alone_is_dead_lettered_by_itself(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    events = stream(seed=5)
    good = events[0][0]
    poison = decision_poisoned(good)
    middle = len(events) // 2
    events.insert(middle, (poison, DECISIONS))
    other = await second_database(database_url, request, tmp_path)

    def at_nine() -> datetime:  # the failed batch's handlers ran too: one time for all
        return NOW

    async with (
        perpetrators_loop(kafka_bootstrap, database_url, f"{group}-set", at_nine) as as_set,
        perpetrators_loop(kafka_bootstrap, other, f"{group}-one", at_nine) as alone,
        TopicReader(kafka_bootstrap, DEADLETTER) as dlq,
    ):
        records = as_records(events)
        with pytest.raises(ValueError, match="risk_level"):
            await as_set.loop.process_batch(records)
        assert (await kept(as_set))["incidents"] == []  # nothing of the batch committed
        await one_by_one(as_set.loop, records)  # what the loop does next
        await one_by_one(alone.loop, [r for n, r in enumerate(records) if n != middle])
        # the same but for the history's row ids: PostgreSQL's sequence keeps its numbers
        set_wise, one_each = await kept(as_set, ("id",)), await kept(alone, ("id",))
        assert set_wise == one_each
        await dead_lettered_alone(dlq, poison.id, records, "ValidationError")


def later(first: TriageDecided, hours: float, **update: Any) -> TriageDecided:
    """A later (or, with negative hours, an older) decision of the same incident."""
    when = first.decided_at + timedelta(hours=hours)
    return first.model_copy(update={"decision_id": uuid.uuid4(), "decided_at": when, **update})


def crossing(area: str) -> tuple[Stream, Stream]:
    """Two batches. The first stores a suspect with a person id. In the second, in this
    order: that suspect again (a stored standing updated); a suspect known first by names
    and date of birth only, then by a person id under the same names (one perpetrator,
    the person id added), then a twin with another person id (another person); a serial
    suspect prioritised by three recent high-risk incidents against two victims,
    released by two re-grades to standard, prioritised again by a fourth incident, the
    same suspect many times; and an older decision of a re-graded incident arriving
    after the newer one (the newer's facts stand)."""
    recent = NOW - timedelta(days=3)
    victims = [person("victim", n) for n in range(3)]
    stored, serial = person("suspect", 0), person("suspect", 1)
    with_pid = person("suspect", 2)
    names_only = {k: v for k, v in with_pid.items() if k != "person_id"}
    twin = {**with_pid, "person_id": f"S2-twin-{uuid.uuid4().hex[:6]}"}

    def new(suspect: dict[str, Any], n: int, level: str = "high") -> TriageDecided:
        return decision(
            area, suspect, victims[n % 2], reported_at=recent + timedelta(hours=n), risk_level=level
        )

    first = [new(stored, 0, "medium")]
    hits = [new(serial, n) for n in range(3)]
    second = [
        new(stored, 1),
        new(names_only, 2, "medium"),
        new(with_pid, 3),
        new(twin, 4),
        *hits,  # prioritised at the third
        later(hits[0], 1, risk_level="standard"),
        later(hits[1], 1, risk_level="standard"),  # released
        new(serial, 5),  # prioritised again
        later(hits[2], 2, risk_level="medium"),
        later(hits[2], -1, risk_level="standard"),  # older: changes nothing
    ]
    return [(event_of(d), DECISIONS) for d in first], [(event_of(d), DECISIONS) for d in second]


async def test_a_batch_crossing_the_cohort_and_merging_identities_is_one_by_one_in_fewer_statements(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    before, batch = crossing(new_area())
    other = await second_database(database_url, request, tmp_path)
    async with (
        perpetrators_loop(kafka_bootstrap, database_url, f"{group}-set", ticking(NOW)) as as_set,
        perpetrators_loop(kafka_bootstrap, other, f"{group}-one", ticking(NOW)) as alone,
    ):
        # the service's own consumer declares the batch step this loop is given
        assert isinstance(consumers(as_set.platform, ticking(NOW))[0].handler, BatchHandler)
        await as_set.loop.process_batch(as_records(before))
        await one_by_one(alone.loop, as_records(before))
        with counted(as_set.platform) as set_wise_statements:
            await as_set.loop.process_batch(as_records(batch, len(before)))
        with counted(alone.platform) as one_by_one_statements:
            await one_by_one(alone.loop, as_records(batch, len(before)))
        set_wise, one_each = await kept(as_set), await kept(alone)
    for name in set_wise:
        assert set_wise[name] == one_each[name], name
    # statements, not time (a count does not depend on the machine): SQLite 34 against
    # 125, PostgreSQL 40 against 136 (its holds), three announcements reading the store
    assert len(set_wise_statements) * 3 < len(one_by_one_statements)
    # the batch is what it says: the stored suspect, one merged, the twin, the serial one
    assert len(set_wise["perpetrators"]) == 4
    assert len(set_wise["identities"]) == 2 + 2 + 1 + 2  # pid and names: the twin shares
    changes = [h["ce_type"] for t, _, h, _ in set_wise["outbox"] if t == PERPETRATORS]
    assert changes == [PERPETRATOR_PRIORITISED, PERPETRATOR_RELEASED, PERPETRATOR_PRIORITISED]
    levels = {r[0]: r[5] for r in set_wise["incidents"]}
    hits = [e.subject for e, _ in batch[4:7]]
    assert [levels[i] for i in hits] == ["standard", "standard", "medium"]  # the newer stands
