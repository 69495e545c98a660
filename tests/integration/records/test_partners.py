"""What partners consume is logged once (contract section 12: `consulted`, `via: topic`,
`sub`: the group): referrals published on an agency's topic, consumed by that agency's
own consumer group as its own principal, committed; records' job reads the committed
offsets with its own principal and logs the records committed past, once. Real broker;
records' migrated store on SQLite and on PostgreSQL (as its insert-only role)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import RecordsToDelete
from sqlalchemy import Table, func, select

from mash_tools import admin
from mash_tools.testing import TEST_PSEUDONYM_KEY, eventually, kafka_options, running
from records import store
from records.app import MIGRATIONS, create_app
from records.offsets import PartnerBus, position
from records.partners import PartnerConsumption, run_once
from shared.audit import person_keys
from shared.envelope import CloudEvent
from shared.identity import victim_key
from shared.kafka_security import client_options
from shared.schemas import Person
from shared.service import Platform
from shared.topics import INCIDENTS, PERPETRATORS, audit_topic, referrals_topic
from tests.integration.records.kit import kept, records_settings, service_database

pytestmark = pytest.mark.kafka

IDVA = referrals_topic("idva")


class Records:
    """Records' own store, migrated, with no Kafka but the job's: on PostgreSQL the job
    connects as the service does, a role that may insert and read, never update."""

    def __init__(self, bootstrap: str, url: str, owner: str) -> None:
        self.table: Table = store.partner_offsets
        settings = records_settings(bootstrap, url, "partners", migrations_database_url=owner)
        self.platform = Platform("records", settings, store.messages, MIGRATIONS)

    @classmethod
    async def started(cls, bootstrap: str, database_url: str) -> Records:
        url, owner = await service_database(database_url)
        kept = cls(bootstrap, url, owner)
        await kept.platform.start_storage()
        return kept

    async def entries(self, group: str) -> list[dict[str, Any]]:
        """The log entries records has staged about `group`, oldest first."""
        outbox = self.platform.tables.outbox
        async with self.platform.sessions() as session:
            rows = (
                await session.execute(
                    select(outbox.c.payload)
                    .where(outbox.c.topic == audit_topic("records"))
                    .order_by(outbox.c.id)
                )
            ).all()
        found = [json.loads(r.payload) for r in rows]
        return [e for e in found if e["sub"] == group]


@pytest.fixture
async def records(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Records]:
    kept = await Records.started(kafka_bootstrap, database_url)
    yield kept
    await kept.platform.stop()


@pytest.fixture
async def records_sqlite(kafka_bootstrap: str, sqlite_url: str) -> AsyncIterator[Records]:
    kept = await Records.started(kafka_bootstrap, sqlite_url)
    yield kept
    await kept.platform.stop()


def someone() -> Person:
    tag = uuid.uuid4().hex[:8]
    return Person(
        person_id=f"P{tag}",
        given_name=f"Given{tag}",
        family_name=f"Family{tag}",
        date_of_birth=date(1990, 4, 1),
    )


async def publish(
    bootstrap: str, principal: str, topic: str, messages: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Publish (key, data) CloudEvents on `topic` as `principal`, as its producer does."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_options(principal))
    await producer.start()
    try:
        for key, data in messages:
            event = CloudEvent(
                id=str(uuid.uuid4()), source="/test", type="mash.test", subject="t", data=data
            )
            await producer.send_and_wait(
                topic, event.value(), key=key.encode(), headers=event.headers()
            )
    finally:
        await producer.stop()


async def refer(bootstrap: str, agency: str, victims: Sequence[Person]) -> dict[str, Person]:
    """One referral per victim on the agency's topic, published as notify: id -> victim."""
    made: dict[str, Person] = {}
    messages = []
    for victim in victims:
        referral_id, incident_id = str(uuid.uuid4()), str(uuid.uuid4())
        record = {
            "referral_id": referral_id,
            "agency": agency,
            "incident_id": incident_id,
            "reason": "high_risk",
            "created_at": datetime.now(UTC).isoformat(),
            # the minimised record: the victim's names and birth date, never a key
            "data": {"victim": victim.model_dump(mode="json", exclude={"person_id"})},
            "delivery": {},
        }
        messages.append((victim_key(TEST_PSEUDONYM_KEY, victim, incident_id), record))
        made[referral_id] = victim
    await publish(bootstrap, "notify", referrals_topic(agency), messages)
    return made


def id_of(record: ConsumerRecord, field: str) -> str:
    """A consumed record's id as records logs it: its `field`, or where it is when it has
    none (the broker tests' markers on the same topics are not even JSON)."""
    try:
        value = json.loads(record.value)
    except ValueError:
        value = None
    found = value.get(field) if isinstance(value, dict) else None
    if isinstance(found, str) and found:
        return found
    return position(record.topic, record.partition, record.offset, record.offset)


async def consume(
    bootstrap: str, principal: str, group: str, topic: str, field: str, wanted: set[str]
) -> list[str]:
    """Consume `topic` with `group` as `principal` until every `wanted` id has come, and
    commit: the ids of every record consumed (earlier tests' too), in order."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_options(principal),
    )
    await consumer.start()
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not wanted <= set(seen):
                batches = await consumer.getmany(timeout_ms=500)
                for batch in batches.values():
                    seen += [id_of(r, field) for r in batch]
        await consumer.commit()
    finally:
        await consumer.stop()
    return seen


def only_entry(entries: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(entries) == 1, entries
    return entries[0]


async def test_an_agency_group_consuming_its_topic_is_logged_once(
    records: Records, kafka_bootstrap: str
) -> None:
    group = f"idva.caseworkers-{uuid.uuid4().hex[:8]}"
    job: PartnerConsumption[Any] = PartnerConsumption(records.table, only={group})
    first = await refer(kafka_bootstrap, "idva", [someone() for _ in range(3)])
    consumed = await consume(kafka_bootstrap, "idva", group, IDVA, "referral_id", set(first))

    assert await job.run_once(records.platform) == len(consumed)
    entry = only_entry(await records.entries(group))
    assert (entry["service"], entry["operation"], entry["sub"]) == ("records", "consulted", group)
    assert (entry["via"], entry["route"], entry["resource"]) == ("topic", IDVA, "referral")
    assert (entry["recipient"], entry["status"]) == ("idva", "ok")
    assert sorted(entry["ids"]) == sorted(consumed)  # every record consumed, each once
    for victim in first.values():
        # the victim's Kafka key (their person id's) and the key of their names and birth
        assert set(person_keys(TEST_PSEUDONYM_KEY, victim)) <= set(entry["subjects"])
        for value in (victim.given_name, victim.family_name, "1990-04-01"):
            assert value not in json.dumps(entry)

    assert await job.run_once(records.platform) == 0  # nothing consumed since
    assert len(await records.entries(group)) == 1

    later = await refer(kafka_bootstrap, "idva", [someone(), someone()])
    more = await consume(kafka_bootstrap, "idva", group, IDVA, "referral_id", set(later))
    assert await job.run_once(records.platform) == len(more)
    entries = await records.entries(group)
    assert len(entries) == 2
    assert sorted(entries[1]["ids"]) == sorted(more)
    assert set(later) <= set(more)
    assert not set(more) & set(consumed)


async def test_the_neighbourhood_team_consuming_perpetrators_is_logged(
    records_sqlite: Records, kafka_bootstrap: str
) -> None:
    group = f"neighbourhood-team.briefing-{uuid.uuid4().hex[:8]}"
    people = {uuid.uuid4().hex: someone() for _ in range(2)}
    await publish(
        kafka_bootstrap,
        "perpetrators",
        PERPETRATORS,
        [
            (
                pid,
                {"perpetrator_id": pid, "person": p.model_dump(mode="json", exclude={"person_id"})},
            )
            for pid, p in people.items()
        ],
    )
    consumed = await consume(
        kafka_bootstrap, "neighbourhood-team", group, PERPETRATORS, "perpetrator_id", set(people)
    )
    job: PartnerConsumption[Any] = PartnerConsumption(records_sqlite.table, only={group})
    assert await job.run_once(records_sqlite.platform) == len(consumed)
    entry = only_entry(await records_sqlite.entries(group))
    assert (entry["route"], entry["resource"]) == (PERPETRATORS, "perpetrator")
    assert entry["recipient"] == "neighbourhood-team"
    assert sorted(entry["ids"]) == sorted(consumed)
    for person in people.values():  # the key of the names and birth date the record shows
        assert person_keys(TEST_PSEUDONYM_KEY, person)[1] in entry["subjects"]
    assert await job.run_once(records_sqlite.platform) == 0


async def test_each_agency_group_is_logged_with_its_own_recipient(
    records_sqlite: Records, kafka_bootstrap: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    idva, support = f"idva.team-{tag}", f"victim-support.team-{tag}"
    to_idva = await refer(kafka_bootstrap, "idva", [someone()])
    to_support = await refer(kafka_bootstrap, "victim-support", [someone(), someone()])
    by_idva = await consume(kafka_bootstrap, "idva", idva, IDVA, "referral_id", set(to_idva))
    by_support = await consume(
        kafka_bootstrap,
        "victim-support",
        support,
        referrals_topic("victim-support"),
        "referral_id",
        set(to_support),
    )
    job: PartnerConsumption[Any] = PartnerConsumption(records_sqlite.table, only={idva, support})
    assert await job.run_once(records_sqlite.platform) == len(by_idva) + len(by_support)
    logged_idva = only_entry(await records_sqlite.entries(idva))
    logged_support = only_entry(await records_sqlite.entries(support))
    assert (logged_idva["recipient"], sorted(logged_idva["ids"])) == ("idva", sorted(by_idva))
    assert logged_support["recipient"] == "victim-support"
    assert logged_support["route"] == referrals_topic("victim-support")
    assert sorted(logged_support["ids"]) == sorted(by_support)


async def test_a_first_seen_group_is_logged_from_its_start_over_bounded_rounds(
    records_sqlite: Records, kafka_bootstrap: str
) -> None:
    group = f"idva.backlog-{uuid.uuid4().hex[:8]}"
    referred = await refer(kafka_bootstrap, "idva", [someone() for _ in range(7)])
    consumed = await consume(kafka_bootstrap, "idva", group, IDVA, "referral_id", set(referred))
    job: PartnerConsumption[Any] = PartnerConsumption(records_sqlite.table, only={group}, limit=2)
    rounds = 0
    while await job.run_once(records_sqlite.platform):  # at most 2 a partition a round
        rounds += 1
    logged = [i for e in await records_sqlite.entries(group) for i in e["ids"]]
    assert sorted(logged) == sorted(consumed)  # all of it, each once
    assert rounds >= len(consumed) / (2 * 3)  # 3 partitions


async def test_two_rounds_at_once_log_each_record_once(
    records: Records, kafka_bootstrap: str
) -> None:
    group = f"idva.race-{uuid.uuid4().hex[:8]}"
    referred = await refer(kafka_bootstrap, "idva", [someone() for _ in range(4)])
    consumed = await consume(kafka_bootstrap, "idva", group, IDVA, "referral_id", set(referred))
    settings = records.platform.settings.hub

    async def round_() -> int:
        # run_once without the job's one-replica lock: two replicas' rounds racing
        async with PartnerBus(settings.kafka_bootstrap, client_options("records")) as bus:
            return await run_once(records.platform, bus, records.table, only={group})

    counts = await asyncio.gather(round_(), round_())
    logged = [i for e in await records.entries(group) for i in e["ids"]]
    assert sorted(logged) == sorted(consumed)
    assert sum(counts) == len(consumed)


async def test_ops_groups_are_logged_by_position_where_records_may_not_read(
    records_sqlite: Records, kafka_bootstrap: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    group, on_referrals = f"ops.replay-{tag}", f"ops.audit-{tag}"
    marker = str(uuid.uuid4())
    await publish(kafka_bootstrap, "intake", INCIDENTS, [(marker, {"incident_id": marker})])
    consumed = await consume(kafka_bootstrap, "ops", group, INCIDENTS, "incident_id", {marker})
    referred = await refer(kafka_bootstrap, "idva", [someone()])
    by_ops = await consume(kafka_bootstrap, "ops", on_referrals, IDVA, "referral_id", set(referred))
    job: PartnerConsumption[Any] = PartnerConsumption(
        records_sqlite.table, only={group, on_referrals}
    )
    assert await job.run_once(records_sqlite.platform) == len(consumed) + len(by_ops)

    entry = only_entry(await records_sqlite.entries(group))
    assert (entry["recipient"], entry["route"], entry["resource"]) == ("ops", INCIDENTS, "incident")
    assert entry["subjects"] == []
    ranges = [i.rsplit(":", 2) for i in entry["ids"]]  # <topic>:<partition>:<first>-<last>
    assert {topic for topic, _, _ in ranges} == {INCIDENTS}
    spans = [tuple(int(o) for o in span.split("-")) for _, _, span in ranges]
    assert sum(last - first + 1 for first, last in spans) == len(consumed)
    # where records may read, ops' consumption is logged by the records' own ids
    readable = only_entry(await records_sqlite.entries(on_referrals))
    assert (readable["recipient"], sorted(readable["ids"])) == ("ops", sorted(by_ops))
    assert await job.run_once(records_sqlite.platform) == 0


async def test_records_gone_or_never_there_are_logged_by_position_or_not_at_all(
    records_sqlite: Records, kafka_bootstrap: str
) -> None:
    """What a known group consumed and retention deleted before records logged it: logged
    by position. A group first seen after retention: only what the log still holds (it
    cannot have read the rest). Committed past the log's end: nothing was there."""
    topic = referrals_topic("school")
    tag = uuid.uuid4().hex[:8]
    group, newcomer = f"school.dsl-{tag}", f"school.newcomer-{tag}"
    job: PartnerConsumption[Any] = PartnerConsumption(records_sqlite.table, only={group, newcomer})
    first = await refer(kafka_bootstrap, "school", [someone()])
    await consume(kafka_bootstrap, "school", group, topic, "referral_id", set(first))
    assert await job.run_once(records_sqlite.platform)  # the group is known from here
    later = await refer(kafka_bootstrap, "school", [someone() for _ in range(3)])
    consumed = await consume(kafka_bootstrap, "school", group, topic, "referral_id", set(later))
    client = admin.admin_client(kafka_bootstrap)
    await client.start()
    reader = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, **kafka_options("school")
    )
    await reader.start()
    try:
        (described,) = await client.describe_topics([topic])
        tps = sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])
        ends = await reader.end_offsets(tps)
        # retention, as the broker applies it: everything up to now is gone
        await client.delete_records({tp: RecordsToDelete(ends[tp]) for tp in tps})
        reader.assign(tps[:1])
        await reader.commit({tps[0]: ends[tps[0]] + 5})  # past the end: nothing there
    finally:
        await reader.stop()
        await client.close()
    assert await job.run_once(records_sqlite.platform) == len(consumed)
    gone = (await records_sqlite.entries(group))[1]
    spans = [i.rsplit(":", 2)[2].split("-") for i in gone["ids"]]
    assert sum(int(last) - int(first) + 1 for first, last in spans) == len(consumed)
    assert all(i.startswith(f"{topic}:") for i in gone["ids"])
    async with records_sqlite.platform.sessions() as session:
        c = records_sqlite.table.c
        reached = await session.scalar(
            select(func.max(c.to_offset)).where(
                c.group_id == group, c.partition == tps[0].partition
            )
        )
    assert reached == ends[tps[0]] + 5  # logged up to its commit: no round stalls on it

    fresh = await refer(kafka_bootstrap, "school", [someone()])
    by_newcomer = await consume(
        kafka_bootstrap, "school", newcomer, topic, "referral_id", set(fresh)
    )
    assert await job.run_once(records_sqlite.platform) == len(by_newcomer)
    assert only_entry(await records_sqlite.entries(newcomer))["ids"] == list(fresh)
    assert await job.run_once(records_sqlite.platform) == 0


async def test_the_records_service_logs_and_keeps_what_a_partner_consumed(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    """As wired in records' app: the job's entry goes through records' outbox to its own
    log topic, and records keeps it like every other service's entry."""
    settings = records_settings(kafka_bootstrap, sqlite_url, group, partners_interval_seconds=1.0)
    app = create_app(settings)
    caseworkers = f"idva.service-{uuid.uuid4().hex[:8]}"
    async with running(app):
        referred = await refer(kafka_bootstrap, "idva", [someone(), someone()])
        consumed = await consume(
            kafka_bootstrap, "idva", caseworkers, IDVA, "referral_id", set(referred)
        )

        async def logged() -> list[Any]:
            return [r for r in await kept(app, "records") if r.sub == caseworkers]

        (entry,) = await eventually(logged, timeout=60)
    assert (entry.operation, entry.via, entry.route) == ("consulted", "topic", IDVA)
    assert (entry.resource, entry.recipient) == ("referral", "idva")
    assert sorted(entry.ids) == sorted(consumed)


async def test_a_group_with_a_very_long_id_is_logged_like_any(
    records: Records, kafka_bootstrap: str
) -> None:
    """Kafka does not bound a group's id: one longer than the table's column is kept by
    its hash, and neither stops the round nor escapes the log."""
    group = f"ops.{uuid.uuid4().hex}-" + "x" * 300
    referred = await refer(kafka_bootstrap, "idva", [someone()])
    consumed = await consume(kafka_bootstrap, "ops", group, IDVA, "referral_id", set(referred))
    job: PartnerConsumption[Any] = PartnerConsumption(records.table, only={group})
    assert await job.run_once(records.platform) == len(consumed)
    assert await job.run_once(records.platform) == 0
    (entry,) = await records.entries(group[:256])  # an entry's `sub` is at most 256
    assert (entry["recipient"], sorted(entry["ids"])) == ("ops", sorted(consumed))
