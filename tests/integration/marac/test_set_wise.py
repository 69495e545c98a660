"""Marac's consumer handles a fetched batch as a set: a batch step holds the victims of its
MARAC-eligible decisions and reads their identity keys, their cases and their areas'
meetings to come once (`marac.batch`), kept current with the batch's own listings: the
same cases, identities, meetings, equality monitoring and outbox rows (listings, closings
and log entries, in the order the relay publishes them) as one event per transaction,
on SQLite and PostgreSQL, in fewer reads; a poison decision in the middle of a batch
fails the batch, and going one at a time dead-letters it alone and processes the rest
once.

The stream: repeat victims (one three times in one batch, joining the case its first
incident opened; one known first by names and date of birth, then with a person id;
one listed and discussed at a MARAC before: a repeat), eligible decisions and not, three
areas (meetings with few places, one with none: cases wait), later decisions of the same
incident (a re-grade) and older ones after them, equality monitoring (one incident's
twice), the very same event twice."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from marac import handlers, repository, store
from marac.app import MIGRATIONS
from marac.config import Settings
from marac.consumer import consumers
from marac.domain.listing import Meeting
from mash_tools.testing import TopicReader, create_database
from shared.kafka import BatchHandler, ConsumerLoop, dispatch
from shared.schemas import TriageDecided
from shared.service import Platform
from shared.topics import DEADLETTER, DECISIONS, INTAKE_EQUALITY
from tests.integration.marac.kit import (
    decision,
    equality_event,
    equality_given,
    event_of,
    marac_settings,
    new_area,
    victim,
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
BEFORE = NOW - timedelta(days=60)
TODAY = NOW.date()


class Clock:
    """The handlers' clock, which a test may set back for a while."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now()


@dataclass
class Side:
    """One database's marac: its platform and consumer loop (not started), its clock, and
    the ids its handlers make (the same sequence on both sides)."""

    platform: Platform[Settings]
    loop: ConsumerLoop
    clock: Clock
    ids: random.Random


@asynccontextmanager
async def marac_loop(
    bootstrap: str, database_url: str, group: str, now: Callable[[], datetime]
) -> AsyncIterator[Side]:
    """Marac's storage and producer (for dead letters) and its consumer's loop, not started,
    its relay not running (the outbox rows stay, to be compared)."""
    settings = marac_settings(bootstrap, database_url, group)
    platform = Platform("marac", settings, store.messages, MIGRATIONS)
    await platform.start([], relay=False)
    clock = Clock(now)
    handler = dispatch(handlers.EVENTS, platform, clock, handlers.prepare)  # as `consumers`
    topics = [DECISIONS, INTAKE_EQUALITY]
    loop = loop_of(platform, topics, handler, bootstrap, settings.consumer_group)
    try:
        yield Side(platform, loop, clock, random.Random(7))
    finally:
        await platform.stop()


@contextmanager
def ids_of(side: Side, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The side's handlers make their case and event ids from its own seeded sequence."""
    with monkeypatch.context() as patched:
        patched.setattr(handlers, "uuid4", lambda: uuid.UUID(int=side.ids.getrandbits(128)))
        yield


@dataclass
class Plan:
    areas: list[str]
    meetings: list[Meeting]
    before: Stream
    held: Meeting
    first: Stream
    second: Stream
    thrice: list[str]
    """The incidents of the victim three times in the first batch."""


def later(first: TriageDecided, hours: float, **update: Any) -> TriageDecided:
    """A later (or, with negative hours, an older) decision of the same incident."""
    when = first.decided_at + timedelta(hours=hours)
    return first.model_copy(update={"decision_id": uuid.uuid4(), "decided_at": when, **update})


def plan(seed: int) -> Plan:
    rng = random.Random(seed)
    areas = [new_area() for _ in range(3)]
    meetings = [  # the third area has none: its new cases wait
        Meeting(str(uuid.uuid4()), areas[0], TODAY + timedelta(days=7), 2, 0),
        Meeting(str(uuid.uuid4()), areas[0], TODAY + timedelta(days=14), 2, 0),
        Meeting(str(uuid.uuid4()), areas[1], TODAY + timedelta(days=8), 1, 0),
    ]
    victims = [victim(n) for n in range(7)]
    names_only = {k: v for k, v in victims[1].items() if k != "person_id"}
    people = [*victims, names_only]
    # before: two victims listed at a meeting held since (their next listing: a repeat)
    held = Meeting(str(uuid.uuid4()), areas[0], (BEFORE + timedelta(days=10)).date(), 5, 0)
    before = [
        (
            event_of(decision(areas[0], victims[n], decided_at=BEFORE - timedelta(hours=n))),
            DECISIONS,
        )
        for n in (0, 2)
    ]

    def new(
        person: dict[str, Any], n: int, eligible: bool = True, area: str | None = None
    ) -> TriageDecided:
        at = NOW - timedelta(hours=rng.randint(1, 60), minutes=n)
        return decision(
            area or rng.choice(areas),
            person,
            eligible=eligible,
            decided_at=at,
            risk_level=rng.choice(["medium", "high"]),
            children=rng.choice([0, 0, 1, 2]),
            dash_score=rng.choice([None, 9, 15, 18]),
        )

    first: Stream = []
    second: Stream = []
    for n in range(36):
        data = new(rng.choice(people), n, eligible=rng.random() < 0.75)
        events = first if n < 22 else second
        events.append((event_of(data), DECISIONS))
        if rng.random() < 0.3:  # a re-grade, then an older decision arriving after it
            newer = later(data, 1, risk_level="high", dash_score=20)
            events.append((event_of(newer), DECISIONS))
            if rng.random() < 0.5:
                events.append((event_of(later(data, -1, dash_score=3)), DECISIONS))
        if rng.random() < 0.3:
            given = equality_given(data, {"sex": rng.choice(["female", "male"])})
            events.append((equality_event(given), INTAKE_EQUALITY))
    repeat = victims[3]
    thrice = [new(repeat, 100 + n) for n in range(3)]  # one victim three times in one batch
    first += [(event_of(d), DECISIONS) for d in thrice]
    first.append((event_of(new(names_only, 200)), DECISIONS))  # names, then a person id
    first.append((event_of(new(victims[1], 201)), DECISIONS))
    first.append((event_of(new(victims[0], 202)), DECISIONS))  # a repeat victim
    for n, area in enumerate(areas):  # a new victim in each area
        first.append((event_of(new(victim(50 + n), 203 + n, area=area)), DECISIONS))
    given = equality_given(thrice[0], {"sex": "female", "ethnicity": "white"})
    first.append((equality_event(given), INTAKE_EQUALITY))
    rng.shuffle(first)
    second.append((equality_event(given), INTAKE_EQUALITY))  # given twice: kept once
    second.append((event_of(new(repeat, 300)), DECISIONS))  # joins from the store
    rng.shuffle(second)
    second.append(first[3])  # the very same event again
    return Plan(areas, meetings, before, held, first, second, [str(d.incident_id) for d in thrice])


async def add_meetings(side: Side, meetings: list[Meeting], at: datetime) -> None:
    async with side.platform.uow() as session:
        for meeting in meetings:
            assert await repository.add_meeting(session, meeting, "api", at)


async def held_and_discussed(side: Side, plan: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    """The before: listed, one at a time, on a meeting since held, discussed there."""
    await add_meetings(side, [plan.held], BEFORE)
    now, side.clock.now = side.clock.now, lambda: BEFORE
    try:
        with ids_of(side, monkeypatch):
            await one_by_one(side.loop, as_records(plan.before))
            async with side.platform.sessions() as session:
                on_it = await repository.cases_on(session, plan.held.meeting_id)
            assert len(on_it) == 2
            at = datetime.combine(plan.held.date, datetime.min.time(), UTC) + timedelta(hours=18)
            discussed = sorted(c.case_id for c in on_it)
            await handlers.record_outcome(
                side.platform, plan.held.meeting_id, discussed, [], "chair", "/test", at
            )
    finally:
        side.clock.now = now
    await add_meetings(side, plan.meetings, NOW)


def _rows(rows: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in rows]


async def kept(side: Side) -> dict[str, list[Any]]:
    """Marac's store and outbox as kept, every column (outbox: as published), in order."""
    tables = {
        "cases": (store.cases, store.cases.c.case_id),
        "identities": (store.identities, store.identities.c.identity),
        "meetings": (store.meetings, store.meetings.c.meeting_id),
        "equality": (store.equality_given, store.equality_given.c.incident_id),
    }
    found: dict[str, list[Any]] = {}
    async with side.platform.sessions() as session:
        for name, (table, order) in tables.items():
            found[name] = _rows(await session.execute(select(table).order_by(order)))
        outbox = store.messages.outbox
        rows = await session.execute(select(outbox).order_by(outbox.c.id))
        found["outbox"] = [outbox_row(r) for r in rows]
    return found


def reads(statements: list[str]) -> list[tuple[str, str]]:
    """The statements that read marac's victims, cases and meetings, with the table each
    reads."""
    found = []
    for statement in statements:
        if statement.lstrip().upper().startswith("SELECT"):
            table = next((t for t in _READ if f"FROM {t}" in statement), None)
            if table is not None:
                found.append((table, statement))
    return found


_READ = ("victim_identities", "cases", "meetings")


async def test_batches_list_and_publish_exactly_as_one_event_per_transaction_in_fewer_reads(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    the = plan(seed=23)
    other = await second_database(database_url, request, tmp_path)
    async with (
        marac_loop(kafka_bootstrap, database_url, f"{group}-set", ticking(NOW)) as as_set,
        marac_loop(kafka_bootstrap, other, f"{group}-one", ticking(NOW)) as alone,
    ):
        # the service's own consumer declares the batch step this loop is given
        assert isinstance(consumers(as_set.platform)[0].handler, BatchHandler)
        for side in (as_set, alone):
            await held_and_discussed(side, the, monkeypatch)
        offset = len(the.before)
        with ids_of(as_set, monkeypatch), counted(as_set.platform) as set_wise_statements:
            await as_set.loop.process_batch(as_records(the.first, offset))  # raises if failed
        with ids_of(alone, monkeypatch), counted(alone.platform) as one_by_one_statements:
            await one_by_one(alone.loop, as_records(the.first, offset))
        offset += len(the.first)
        with ids_of(as_set, monkeypatch):
            await as_set.loop.process_batch(as_records(the.second, offset))
        with ids_of(alone, monkeypatch):
            await one_by_one(alone.loop, as_records(the.second, offset))
        set_wise, one_each = await kept(as_set), await kept(alone)
    for name in set_wise:
        assert set_wise[name] == one_each[name], name
    # and as a set: the batch's victims and cases read once, a query each, its meetings
    # once and again for each decision that would wait (four), and no case it made or
    # locked read again (statements, not time: a count does not depend on the machine):
    # reads 7 against 111; all statements, SQLite 143 against 343, PostgreSQL 160
    # against 346 (its holds)
    set_reads, one_reads = reads(set_wise_statements), reads(one_by_one_statements)
    assert [t for t, _ in set_reads].count("victim_identities") == 1
    assert [t for t, _ in set_reads].count("cases") == 1
    assert len(set_reads) * 10 < len(one_reads)
    assert len(set_wise_statements) * 2 < len(one_by_one_statements)
    # the stream is what it says: the victim three times in a batch in one case (and
    # once more in the next), cases listed and waiting, a repeat, equality, every entry
    cases = [dict(zip(store.cases.c.keys(), row, strict=True)) for row in set_wise["cases"]]
    joined = [c for c in cases if set(the.thrice) <= {i["incident_id"] for i in c["incidents"]}]
    assert len(joined) == 1
    assert len(joined[0]["incidents"]) >= 4
    assert {"listed", "awaiting_meeting"} <= {c["status"] for c in cases}
    assert any(c["repeat"] for c in cases if c["closed_at"] is None)
    assert len({c["area"] for c in cases}) == 3
    assert len(set_wise["equality"]) >= 2
    operations = {p.get("operation") for t, _, _, p in set_wise["outbox"] if "audit" in t}
    assert operations == {"combined", "altered"}  # listings; the before's outcome


async def test_a_poison_decision_fails_the_batch_and_alone_is_dead_lettered_by_itself(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    the = plan(seed=5)
    events = the.first
    good = next(e for e, topic in events if topic == DECISIONS and e.data["marac"]["eligible"])
    poison = decision_poisoned(good)
    middle = len(events) // 2
    events.insert(middle, (poison, DECISIONS))
    other = await second_database(database_url, request, tmp_path)

    def at_nine() -> datetime:  # the failed batch's handlers ran too: one time for all
        return NOW

    async with (
        marac_loop(kafka_bootstrap, database_url, f"{group}-set", at_nine) as as_set,
        marac_loop(kafka_bootstrap, other, f"{group}-one", at_nine) as alone,
        TopicReader(kafka_bootstrap, DEADLETTER) as dlq,
    ):
        for side in (as_set, alone):
            await add_meetings(side, the.meetings, NOW)
        records = as_records(events)
        with ids_of(as_set, monkeypatch), pytest.raises(ValueError, match="risk_level"):
            await as_set.loop.process_batch(records)
        assert (await kept(as_set))["cases"] == []  # nothing of the batch committed
        as_set.ids = random.Random(7)  # the failed batch's ids were rolled back with it
        with ids_of(as_set, monkeypatch):
            await one_by_one(as_set.loop, records)  # what the loop does next
        with ids_of(alone, monkeypatch):
            await one_by_one(alone.loop, [r for n, r in enumerate(records) if n != middle])
        set_wise, one_each = await kept(as_set), await kept(alone)
        assert set_wise == one_each
        assert set_wise["cases"]
        await dead_lettered_alone(dlq, poison.id, records, "ValidationError")


async def test_a_case_closed_while_a_batch_runs_is_not_joined_but_read_again(
    kafka_bootstrap: str, postgres_server: Any, group: str
) -> None:
    """The batch read the victim's case listed on a meeting to come; before its decision is
    handled another writer records the meeting's outcome and closes the case (PostgreSQL:
    SQLite lets one writer in at a time). The case's lock reads it closed: the decision
    is listed again from the store, as one decision per transaction would after the
    close, on the next meeting rather than into the closed case."""
    area, person = new_area(), victim(9)
    first = decision(area, person, decided_at=NOW - timedelta(hours=2))
    second = decision(area, person, decided_at=NOW - timedelta(hours=1))
    soon = Meeting(str(uuid.uuid4()), area, TODAY + timedelta(days=7), 4, 0)
    later_on = Meeting(str(uuid.uuid4()), area, TODAY + timedelta(days=14), 4, 0)
    url = await create_database(postgres_server)
    async with marac_loop(kafka_bootstrap, url, group, ticking(NOW)) as side:
        await add_meetings(side, [soon, later_on], NOW)
        await one_by_one(side.loop, as_records([(event_of(first), DECISIONS)]))
        handler = dispatch(handlers.EVENTS, side.platform, lambda: NOW, handlers.prepare)
        assert isinstance(handler, BatchHandler)
        event = event_of(second)
        async with side.platform.uow() as session:
            await handler.prepare(session, [event])
            async with side.platform.uow() as other:  # meanwhile, another writer
                [case] = await repository.find_cases(other, area, "listed")
                assert await repository.mark_outcome(other, soon.meeting_id, NOW)
                await repository.close_case(other, case.case_id, NOW)
            await handler(session, event)
        async with side.platform.sessions() as session:
            found = {c.case_id: c for c in await repository.find_cases(session, area, None)}
    closed = found.pop(case.case_id)
    assert closed.status == "closed"
    assert [i.incident_id for i in closed.incidents] == [str(first.incident_id)]
    [new] = found.values()
    assert new.meeting_id == later_on.meeting_id
    assert [i.incident_id for i in new.incidents] == [str(second.incident_id)]


async def test_a_meeting_made_while_a_batch_runs_takes_a_decision_that_would_wait(
    kafka_bootstrap: str, postgres_server: Any, group: str
) -> None:
    """The batch read an area without meetings to come; before its decision is handled,
    another writer makes one (PostgreSQL, as above). The decision, which the batch's
    meetings would leave waiting, is listed on it, as one decision per transaction
    would after the meeting was made."""
    area = new_area()
    data = decision(area, victim(10), decided_at=NOW - timedelta(hours=1))
    made = Meeting(str(uuid.uuid4()), area, TODAY + timedelta(days=9), 4, 0)
    url = await create_database(postgres_server)
    async with marac_loop(kafka_bootstrap, url, group, ticking(NOW)) as side:
        handler = dispatch(handlers.EVENTS, side.platform, lambda: NOW, handlers.prepare)
        assert isinstance(handler, BatchHandler)
        event = event_of(data)
        async with side.platform.uow() as session:
            await handler.prepare(session, [event])
            async with side.platform.uow() as other:  # meanwhile, another writer
                assert await repository.add_meeting(other, made, "api", NOW)
            await handler(session, event)
        async with side.platform.sessions() as session:
            [case] = await repository.find_cases(session, area, None)
    assert case.status == "listed"
    assert case.meeting_id == made.meeting_id
