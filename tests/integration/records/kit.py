"""Builders for the records service's tests: log entries as the services publish them,
a publisher for each service's log topic (as that service's principal), settings, and
the store's rows read behind the service's back."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from fastapi import FastAPI
from sqlalchemy import func, select, text

import records.config
from mash_tools.testing import TEST_PSEUDONYM_KEY, as_login, eventually, kafka_options
from records import store
from shared.audit import person_keys
from shared.db import create_engine
from shared.envelope import CloudEvent
from shared.registry import BY_NAME
from shared.schemas import AuditEntry, Person
from shared.topics import audit_topic, audit_type
from tests.builders import settings_for

READ = ("records:read",)


def records_settings(bootstrap: str, database_url: str, group: str, **extra: Any) -> Any:
    return settings_for(records.config.Settings, bootstrap, database_url, group, **extra)


async def start_at_the_end(bootstrap: str, settings: Any) -> None:
    """Commit, for each consumer group of the records service `settings` configures, the
    present end of every topic it reads. A group with no offset reads from its topic's
    start, as in production; on the suite's broker that start holds every entry earlier
    tests logged, which a test of what comes next need not wait for."""
    service = BY_NAME["records"]
    groups: dict[str, list[str]] = {}
    for topic in service.consumes:
        own = service.group_of(topic).removeprefix(service.consumer_group)
        groups.setdefault(settings.consumer_group + own, []).append(topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options("admin"))
    await admin.start()
    try:
        described = await admin.describe_topics(list(service.consumes))
    finally:
        await admin.close()
    counts = {d["topic"]: len(d["partitions"]) for d in described if not d["error_code"]}
    for group, topics in groups.items():
        partitions = [TopicPartition(t, p) for t in topics for p in range(counts.get(t, 0))]
        if not partitions:  # no topic yet: nothing to pass over
            continue
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            **kafka_options("admin"),
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
        finally:
            await consumer.stop()


def someone() -> Person:
    """A synthetic person unique to the test."""
    tag = uuid.uuid4().hex[:8]
    return Person(
        person_id=f"N{tag}",
        given_name=f"Givenname{tag}",
        family_name=f"Familyname{tag}",
        date_of_birth=date(1988, 3, 14),
    )


def keys(person: Person) -> list[str]:
    return list(person_keys(TEST_PSEUDONYM_KEY, person))


def entry(
    service: str = "notify",
    operation: str = "disclosed",
    *,
    ids: list[str] | None = None,
    subjects: list[str] | None = None,
    at: datetime | None = None,
    sub: str | None = None,
    **extra: Any,
) -> AuditEntry:
    """One log entry as `service` logs it (shared.audit)."""
    return AuditEntry.model_validate(
        {
            "entry_id": str(uuid.uuid4()),
            "at": (at or datetime.now(UTC)).isoformat(),
            "service": service,
            "operation": operation,
            "sub": sub or service,
            "via": "topic" if operation == "disclosed" else "api",
            "route": "mash.referrals.idva.v1" if operation == "disclosed" else "/v1/things",
            "resource": "referral",
            "ids": ids if ids is not None else [str(uuid.uuid4())],
            "subjects": subjects or [],
            "recipient": "idva" if operation == "disclosed" else None,
            "status": "ok" if operation == "disclosed" else 200,
            **extra,
        }
    )


def event_of(data: AuditEntry) -> CloudEvent:
    return CloudEvent(
        id=str(data.entry_id),
        source=f"/mash/{data.service}",
        type=audit_type(data.operation),
        subject=data.ids[0] if len(data.ids) == 1 else data.resource,
        data=data.model_dump(mode="json"),
        time=data.at,
    )


class LogPublisher:
    """Publishes log entries on services' own log topics, as those services' principals."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producers: dict[str, AIOKafkaProducer] = {}

    async def __aenter__(self) -> LogPublisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for producer in self._producers.values():
            await producer.stop()

    async def _producer(self, service: str) -> AIOKafkaProducer:
        if service not in self._producers:
            producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, **kafka_options(service))
            await producer.start()
            self._producers[service] = producer
        return self._producers[service]

    async def publish(self, data: AuditEntry, event: CloudEvent | None = None) -> CloudEvent:
        """Publish `data` on its service's topic (`event`: the same message again)."""
        event = event or event_of(data)
        producer = await self._producer(data.service)
        await producer.send_and_wait(
            audit_topic(data.service),
            value=event.value(),
            key=data.service.encode(),
            headers=event.headers(),
        )
        return event

    async def publish_many(self, entries: list[AuditEntry]) -> None:
        """Publish many entries (of one service) in order, waiting once for them all."""
        producer = await self._producer(entries[0].service)
        for data in entries:
            event = event_of(data)
            await producer.send(
                audit_topic(data.service),
                value=event.value(),
                key=data.service.encode(),
                headers=event.headers(),
            )
        await producer.flush()


async def kept(app: FastAPI, service: str | None = None) -> list[Any]:
    """The entries the store holds (of one service), in chain order."""
    entries = store.entries
    query = select(entries).order_by(entries.c.service, entries.c.seq)
    if service is not None:
        query = query.where(entries.c.service == service)
    async with app.state.platform.sessions() as session:
        return list((await session.execute(query)).all())


async def kept_ids(app: FastAPI, service: str = "notify") -> list[str]:
    return [r.entry_id for r in await kept(app, service)]


async def until_kept(app: FastAPI, count: int, service: str = "notify") -> list[str]:
    """Wait until the store holds `count` entries of `service`; their ids in chain order."""

    async def enough() -> list[str] | None:
        found = await kept_ids(app, service)
        return found if len(found) >= count else None

    found: list[str] = await eventually(enough)
    return found


async def until_all_kept(app: FastAPI, entry_ids: list[str]) -> None:
    """Wait until the store holds every one of these entries (whatever else it holds)."""

    async def all_there() -> bool:
        found = {r.entry_id for r in await kept(app)}
        return found.issuperset(entry_ids)

    await eventually(all_there)


async def outbox_entries(app: FastAPI, via: str | None = "api") -> list[dict[str, Any]]:
    """The log entries records itself has committed (published or not) `via` its API (or
    its jobs, or the partners' topics; None: all), oldest first."""
    outbox = store.messages.outbox
    async with app.state.platform.sessions() as session:
        rows = (
            await session.execute(
                select(outbox.c.payload)
                .where(outbox.c.topic == audit_topic("records"))
                .order_by(outbox.c.id)
            )
        ).all()
    return [e for e in (json.loads(r.payload) for r in rows) if via is None or e["via"] == via]


async def count(app: FastAPI, table: Any) -> int:
    async with app.state.platform.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def service_database(database_url: str) -> tuple[str, str]:
    """Where the service connects and where its migrations run. SQLite: one file. PostgreSQL:
    the service logs in as a role of its own in the group `records_writer` (insert and read
    only), and the migrations run as the database's owner."""
    if not database_url.startswith("postgresql"):
        return database_url, ""
    login = f"records_{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)  # the server asks every login for its password
    await as_owner(
        database_url,
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'records_writer') "
        "THEN CREATE ROLE records_writer NOLOGIN; END IF; END $$",
        f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE records_writer",
    )
    return as_login(database_url, login, password), database_url


async def as_owner(owner_url: str, *statements: str, **params: Any) -> None:
    """Statements run straight on the database as its owner, behind the service's back."""
    engine = create_engine(owner_url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement), params)
    finally:
        await engine.dispose()
