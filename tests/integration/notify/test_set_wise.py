"""Notify's consumer makes a fetched batch's referrals as a set (`notify.referring`): the
same ledger rows, the same referral events on the agencies' topics (payloads, order per
key) and the same log entries as one event per transaction, on SQLite and PostgreSQL; a
poison decision in the middle of a batch fails the batch, and going one at a time
dead-letters it alone and makes the rest once.

Each side is notify's own consumer loop (`ConsumerLoop.process_batch`, the fetch in one
transaction; `ConsumerLoop.process`, one record per transaction) over the same records,
in two databases, each with its outbox relay publishing to the real broker. Referral ids
are drawn at random on each side, so rows are compared with each referral's id replaced
by what it is (incident, agency, subject), and traces by their trace id."""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from sqlalchemy import select

from mash_tools.testing import (
    TopicReader,
    data_of,
    eventually,
    headers_of,
    hub_settings,
)
from notify import repository, store
from notify.app import MIGRATIONS
from notify.config import Settings
from notify.consumer import consumers
from notify.domain.records import created_record
from notify.domain.sharing import VIEWS
from notify.handlers import Notify
from shared.envelope import CloudEvent
from shared.kafka import ConsumerLoop
from shared.outbox import outbox_row
from shared.service import Platform
from shared.telemetry import inject_headers
from shared.topics import (
    DEADLETTER,
    DECISIONS,
    MARAC_IDVA_REFERRALS,
    MARAC_REFERRAL_RECEIVED,
    REFERRAL_CREATED,
    TRIAGE_DECIDED,
    audit_topic,
    referrals_topic,
)
from tests.integration.notify.kit import notify_settings
from tests.integration.set_wise import (
    dead_lettered_alone,
    loop_of,
    one_by_one,
    record_of,
    second_database,
)
from tests.unit.notify.builders import ALL_REFERRALS, decision_data

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
AGENCY_TOPICS = [referrals_topic(agency) for agency in sorted(VIEWS)]
LOG = audit_topic("notify")


@dataclass
class Side:
    """One database's notify: its platform and its consumer's loop."""

    platform: Platform[Any]
    loop: ConsumerLoop


@asynccontextmanager
async def notify_loop(
    bootstrap: str, database_url: str, group: str, clock: Callable[[], datetime]
) -> AsyncIterator[Side]:
    """Notify's storage, producer and relay (publishing what is staged) and its consumer's
    loop, not started: the test hands it the records. Events are processed at `clock()`."""
    settings = notify_settings(bootstrap, database_url, group)
    platform = Platform("notify", settings, store.messages, MIGRATIONS)
    await platform.start([])
    spec = consumers(Notify.on(platform), clock)[0]
    loop = loop_of(platform, spec.topics, spec.handler, bootstrap, group)
    try:
        async with platform.uow() as session:  # one agency by webhook: deliveries pinned
            await repository.subscribe(session, "idva", "http://127.0.0.1:9/idva", "sealed", NOW)
        yield Side(platform, loop)
    finally:
        await platform.stop()


def ticking() -> Callable[[], datetime]:
    """A clock a millisecond further each call: a batch must keep each event's own time."""
    ticks = itertools.count()
    return lambda: NOW + timedelta(milliseconds=next(ticks))


def traced(event: CloudEvent) -> CloudEvent:
    """The event in a trace of its own, as triage's relay publishes it."""
    trace = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    return CloudEvent(
        id=event.id,
        source=event.source,
        type=event.type,
        subject=event.subject,
        data=event.data,
        trace_headers={"traceparent": trace},
    )


def decided(data: dict[str, Any], key: str) -> tuple[CloudEvent, str, str]:
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/mash/triage",
        type=TRIAGE_DECIDED,
        subject=str(data["incident_id"]),
        data=data,
    )
    return traced(event), DECISIONS, key


def marac_referral(victim: dict[str, Any]) -> tuple[CloudEvent, str, str]:
    referral_id = str(uuid.uuid4())
    data = {
        "marac_referral_id": referral_id,
        "case_id": str(uuid.uuid4()),
        "area": "southampton",
        "referring_agency": "health",
        "criteria": ["visible_high_risk"],
        "received_at": (NOW - timedelta(hours=1)).isoformat(),
        "victim": victim,
        "children_born": ["2014-12-01"],
    }
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/mash/marac",
        type=MARAC_REFERRAL_RECEIVED,
        subject=referral_id,
        data=data,
    )
    return traced(event), MARAC_IDVA_REFERRALS, "marac-victim"


def again(item: tuple[CloudEvent, str, str]) -> tuple[CloudEvent, str, str]:
    """The same event published again under another event id (not an inbox duplicate)."""
    event, topic, key = item
    copy = CloudEvent(str(uuid.uuid4()), event.source, event.type, event.subject, event.data)
    return traced(copy), topic, key


Stream = list[tuple[CloudEvent, str, str]]


def stream(seed: int) -> tuple[Stream, Stream]:
    """Decisions made before (processed one at a time on both sides), then a shuffled
    batch: several agencies' referrals, a re-grade of an incident decided before and one
    of an incident decided in the same batch (after its first decision), the very same
    event twice, a decision again under another event id, a victim with two incidents,
    and IDVA's MARAC referrals (one announced twice)."""
    rng = random.Random(seed)

    def some(incident_id: str | None = None, **extra: Any) -> dict[str, Any]:
        chosen = rng.sample(ALL_REFERRALS, rng.randint(1, len(ALL_REFERRALS)))
        return decision_data(incident_id, referrals=chosen, **extra)

    early = some(risk_level="medium")
    before = [decided(early, "victim-early")]
    fresh = [decided(some(), f"victim-{n}") for n in range(12)]
    first = decision_data(referrals=ALL_REFERRALS[:2], risk_level="medium")
    regrade = decision_data(first["incident_id"], referrals=ALL_REFERRALS, risk_level="high")
    later = decision_data(early["incident_id"], referrals=ALL_REFERRALS, risk_level="high")
    victim = first["incident"]["victim"]
    same_victim = decision_data(referrals=ALL_REFERRALS[3:], victim=victim)
    maracs = [marac_referral(victim), marac_referral(early["incident"]["victim"])]
    shuffled = fresh + maracs + [decided(later, "victim-early")]
    rng.shuffle(shuffled)
    batch = [*shuffled[:6], decided(first, "victim-first"), *shuffled[6:]]
    batch += [decided(same_victim, "victim-first"), decided(regrade, "victim-first")]
    batch.insert(3, batch[8])  # the very same event again (an inbox duplicate)
    batch.insert(11, again(batch[2]))  # the same decision under another event id
    batch.append(again(maracs[0]))  # the same MARAC referral announced again
    return before, batch


def as_records(events: Stream, first_offset: int = 0) -> list[Any]:
    """The events as the loop fetches them, each under its own key: offsets in order (one
    partition a topic)."""
    return [
        record_of(event, topic, first_offset + n, key)
        for n, (event, topic, key) in enumerate(events)
    ]


@dataclass
class Kept:
    """What one side made: its ledger and outbox rows, with ids named by what they are."""

    names: dict[str, str]
    """Each referral id: its incident, agency and subject."""
    referrals: list[Any]
    deliveries: list[Any]
    outbox: list[Any]
    """(topic, key, payload, ce_ headers) in id order: what the relay publishes, in order."""
    traces: dict[str, str]
    """Each referral (by name): the trace id it was made in."""


def _trace_id(headers: Any) -> str:
    parts = dict(headers or {}).get("traceparent", "").split("-")
    return parts[1] if len(parts) > 1 else ""


def _named(value: Any, names: dict[str, str]) -> Any:
    text = json.dumps(value, sort_keys=True, default=str)
    for referral_id, name in names.items():
        text = text.replace(referral_id, name)
    return json.loads(text)


async def kept(side: Side) -> Kept:
    async with side.platform.sessions() as session:
        referrals = (await session.execute(select(store.referrals))).all()
        deliveries = (await session.execute(select(store.deliveries))).all()
        outbox = store.messages.outbox
        staged = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
    names = {r.referral_id: f"{r.incident_id}/{r.agency}/{r.subject}" for r in referrals}
    traces = {names[d.referral_id]: _trace_id(d.trace) for d in deliveries}
    rows = [
        (
            row.topic,
            row.key,
            _named(_without_entry_id(json.loads(row.payload)), names),
            _named(_attributes(row.topic, row.headers), names),
            _trace_id(row.headers),
        )
        for row in staged
    ]
    return Kept(
        names,
        _sorted([_named(r._asdict(), names) for r in referrals]),
        _sorted([_named({**d._asdict(), "trace": None}, names) for d in deliveries]),
        rows,
        traces,
    )


def _attributes(topic: str, headers: dict[str, str]) -> dict[str, str]:
    """An outbox row's event attributes; a log entry's id (`ce_id`) is its random own."""
    return {
        k: v for k, v in headers.items() if k.startswith("ce_") and (k, topic) != ("ce_id", LOG)
    }


def _without_entry_id(payload: dict[str, Any]) -> dict[str, Any]:
    """A log entry's own id is random (`uuid4`) on each side."""
    return {k: v for k, v in payload.items() if k != "entry_id"}


def _sorted(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


@asynccontextmanager
async def readers(bootstrap: str, topics: list[str]) -> AsyncIterator[dict[str, TopicReader]]:
    async with AsyncExitStack() as stack:
        yield {t: await stack.enter_async_context(TopicReader(bootstrap, t)) for t in topics}


async def published(side: Kept, found: dict[str, TopicReader]) -> dict[tuple[str, str], list[Any]]:
    """The side's referral events and log entries as the broker has them, per topic and
    key in order (payloads with ids named), once every row of its outbox is there."""
    ours = set(side.names)

    def mine(record: Any) -> bool:
        if record.topic == LOG:
            return bool(ours.intersection(data_of(record)["ids"]))
        return headers_of(record).get("ce_id") in ours

    async def all_there() -> bool:
        for reader in found.values():
            await reader.poll()
        return sum(mine(r) for t in found.values() for r in t.records) >= len(side.outbox)

    await eventually(all_there)
    by_key: dict[tuple[str, str], list[Any]] = {}
    for topic, reader in found.items():
        for record in reader.records:
            if mine(record):
                payload = _named(_without_entry_id(data_of(record)), side.names)
                by_key.setdefault((topic, record.key.decode()), []).append(payload)
    return by_key


async def test_a_batch_makes_exactly_what_one_event_per_transaction_makes(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    before, batch = stream(seed=23)
    other = await second_database(database_url, request, tmp_path)
    async with (
        readers(kafka_bootstrap, [*AGENCY_TOPICS, LOG]) as found,
        notify_loop(kafka_bootstrap, database_url, f"{group}-set", ticking()) as as_set,
        notify_loop(kafka_bootstrap, other, f"{group}-one", ticking()) as alone,
    ):
        for side in (as_set, alone):
            await one_by_one(side.loop, as_records(before))
        await as_set.loop.process_batch(as_records(batch, len(before)))  # raises if it failed
        await one_by_one(alone.loop, as_records(batch, len(before)))
        set_wise, one_each = await kept(as_set), await kept(alone)

        assert set_wise.referrals == one_each.referrals
        assert set_wise.deliveries == one_each.deliveries
        assert set_wise.outbox == one_each.outbox  # in id order: the order the relay keeps
        assert set_wise.traces == one_each.traces
        # every referral and its rows in the trace of the event that caused it
        causes: dict[str, set[str]] = {}
        for e, _, _ in before + batch:
            causes.setdefault(e.subject, set()).add(_trace_id(e.trace_headers))
        for name, trace in set_wise.traces.items():
            assert trace in causes[name.split("/")[0]]
        # the re-grades and repeats made nothing twice; each event kept its own time
        pairs = [tuple(name.split("/", 1)) for name in set_wise.names.values()]
        assert len(pairs) == len(set(pairs))
        early = str(before[0][0].data["incident_id"])
        assert sum(name.startswith(early) for name in set_wise.names.values()) == 6
        created = {r["created_at"] for r in set_wise.referrals}
        assert len(created) > 10
        # one topic event and one log entry per referral
        assert len(set_wise.outbox) == 2 * len(set_wise.names)

        # the batch's events carry what the ledger reads back (made without reading it)
        async with as_set.platform.sessions() as session:
            for row in await session.execute(select(store.messages.outbox)):
                if row.topic != LOG and row.event_id in set_wise.names:
                    entry = await repository.record(session, row.event_id)
                    assert entry is not None
                    assert json.loads(row.payload) == created_record(entry)

        on_broker = await published(set_wise, found)
        assert on_broker == await published(one_each, found)
        assert sum(len(v) for v in on_broker.values()) == len(set_wise.outbox)


async def test_a_poison_decision_fails_the_batch_and_alone_is_dead_lettered_by_itself(
    kafka_bootstrap: str,
    database_url: str,
    group: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    _, batch = stream(seed=5)
    poison = decided({**decision_data(), "risk_level": "unheard-of"}, "victim-poison")
    middle = len(batch) // 2
    batch.insert(middle, poison)
    other = await second_database(database_url, request, tmp_path)
    async with (
        notify_loop(kafka_bootstrap, database_url, f"{group}-set", lambda: NOW) as as_set,
        notify_loop(kafka_bootstrap, other, f"{group}-one", lambda: NOW) as alone,
        TopicReader(kafka_bootstrap, DEADLETTER) as dlq,
    ):
        records = as_records(batch)
        with pytest.raises(Exception, match="validation error"):
            await as_set.loop.process_batch(records)
        assert (await kept(as_set)).referrals == []  # nothing of the batch committed
        await one_by_one(as_set.loop, records)  # what the loop does next
        await one_by_one(alone.loop, [r for n, r in enumerate(records) if n != middle])
        set_wise, one_each = await kept(as_set), await kept(alone)
        assert set_wise.referrals == one_each.referrals
        assert set_wise.deliveries == one_each.deliveries
        assert set_wise.outbox == one_each.outbox
        assert len(set_wise.referrals) > 20
        await dead_lettered_alone(dlq, poison[0].id, records, "ValidationError")


async def test_notifys_outbox_rows_are_the_shared_writers_rows(database_url: str) -> None:
    """`notify.referring` writes outbox rows itself (many in one statement); they must be
    the rows `shared.outbox.Outbox.add` writes for the same event in the same trace, so
    the relay publishes the same message either way."""
    settings = Settings(database_url=database_url, hub=hub_settings("127.0.0.1:1"))
    platform = Platform("notify", settings, store.messages, MIGRATIONS)
    await platform.start_storage()
    context = SpanContext(uuid.uuid4().int >> 64, 7, is_remote=False, trace_flags=TraceFlags(1))
    data = {"name": "Zoë", "n": 1, "at": NOW.isoformat(), "nested": {"list": [1, None]}}
    outbox = store.messages.outbox
    try:
        async with platform.uow() as session:
            with trace.use_span(NonRecordingSpan(context)):
                shared = CloudEvent("shared-writer", "/mash/notify", REFERRAL_CREATED, "s", data)
                await platform.outbox.add(session, "mash.referrals.idva.v1", "k", shared)
                ours = replace(shared, id="notify-writer")
                row = outbox_row("mash.referrals.idva.v1", "k", ours, inject_headers())
            await platform.outbox.add_rows(session, [row])
        async with platform.sessions() as session:
            rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
    finally:
        await platform.engine.dispose()
    first, second = ({k: v for k, v in r._asdict().items() if k not in SERIAL} for r in rows)
    assert first["headers"]["traceparent"]  # in the trace, both
    for values in (first, second):
        values["headers"]["ce_id"] = values.pop("event_id")
    assert first == {**second, "headers": {**second["headers"], "ce_id": "shared-writer"}}


SERIAL = {"id", "created_at", "published_at"}
