"""A tiny service built from the shared library alone, to test the platform's promises.

It consumes `mash.test.*` events, records each one's effect in a table (so a duplicate
effect would show), and can forward an event to a next hop through the outbox.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mash_tools.testing import hub_settings, kafka_options
from shared.audit import person_keys
from shared.config import ServiceSettings
from shared.envelope import CloudEvent
from shared.kafka_security import producer_of
from shared.schemas import Person
from shared.schemas.v1 import AuditEntry
from shared.service import ConsumerSpec, Platform
from shared.tables import message_tables
from shared.topics import audit_topic, audit_type

metadata = MetaData()
tables = message_tables(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("subject", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
)


@dataclass
class Kit:
    """A platform plus the handler that records effects and forwards to `forward_to`.

    It connects to Kafka as `principal`, the service whose rights its test needs: `triage`
    (the default) reads incidents and writes decisions, `intake` writes incidents."""

    bootstrap: str
    database_url: str
    group: str
    forward_to: str | None = None
    fail_times: int = 0
    exporters: list[Any] = field(default_factory=list)
    principal: str = "triage"

    def __post_init__(self) -> None:
        settings = ServiceSettings(
            database_url=self.database_url,
            consumer_group=f"mash-{self.principal}-{self.group}",
            consumer_offset_reset="latest",
            outbox_poll_seconds=0.05,
            max_attempts=3,
            hub=hub_settings(self.bootstrap, principal=self.principal),
        )
        self.platform = Platform("kit", settings, tables, metadata, self.exporters)
        self.failures = 0

    async def handle(self, session: AsyncSession, event: CloudEvent) -> None:
        if not event.type.startswith("mash.test."):
            return  # another test's traffic on a shared topic
        if self.failures < self.fail_times:
            self.failures += 1
            raise RuntimeError("a handler bug")
        await session.execute(
            effects.insert().values(event_id=event.id, subject=event.subject, at=datetime.now(UTC))
        )
        if self.forward_to:
            await self.platform.outbox.add(
                session,
                self.forward_to,
                event.subject,
                CloudEvent(
                    id=str(uuid.uuid4()),
                    source="/mash/test-kit",
                    type="mash.test.forwarded",
                    subject=event.subject,
                    data={"hop": 2},
                ),
            )

    def spec(self, topic: str) -> ConsumerSpec:
        return ConsumerSpec("kit", [topic], self.handle)

    async def effect_count(self, subject: str) -> int:
        async with self.platform.sessions() as session:
            return int(
                (
                    await session.execute(
                        select(func.count())
                        .select_from(effects)
                        .where(effects.c.subject == subject)
                    )
                ).scalar_one()
            )


def ping_event(subject: str, type_: str = "mash.test.ping") -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/mash/test",
        type=type_,
        subject=subject,
        data={"hello": "world"},
    )


async def produce(
    bootstrap: str,
    topic: str,
    event: CloudEvent | None = None,
    raw: bytes | None = None,
    key: bytes = b"k",
) -> None:
    """Put one message on a topic, as another service's relay would (or raw garbage),
    with the credentials of the service that writes that topic."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_options(producer_of(topic)))
    await producer.start()
    try:
        if event is not None:
            await producer.send_and_wait(topic, event.value(), key=key, headers=event.headers())
        else:
            await producer.send_and_wait(topic, raw, key=key)
    finally:
        await producer.stop()


# -- records of processing (contract section 12) ------------------------------------------------
_NOT_PERSONAL = {"school_urn", "present_at_incident"}


@dataclass(frozen=True)
class Logged:
    """What a service has committed on its own log topic (published or not), oldest first."""

    entries: list[dict[str, Any]]
    """Each entry's data, valid as `AuditEntry`, its `ce_type` its operation's."""
    text: str
    """Every row whole (key, headers and entry), for looking for what must not be there."""

    def of(self, operation: str, **fields: Any) -> list[dict[str, Any]]:
        """The entries of one operation whose fields have these values."""
        return [
            e
            for e in self.entries
            if e["operation"] == operation and all(e[k] == v for k, v in fields.items())
        ]

    def about(self, operation: str, record_id: str) -> dict[str, Any]:
        """The one entry of `operation` whose first id is `record_id` (the record it is
        about; fails on none or several)."""
        [entry] = [e for e in self.of(operation) if e["ids"][:1] == [record_id]]
        return entry

    def assert_nothing_personal_of(self, *people: Mapping[str, Any] | None) -> None:
        """No name, date of birth, address, contact or person id of these people appears in
        any row (whole); each value checked as given and lowercased."""
        lowered = self.text.lower()
        values = [v for p in people if p for v in _values(p)]
        assert values, "a test of no personal data needs people with personal data"
        for value in values:
            assert value.lower() not in lowered, f"personal data in the log: {value!r}"


def _values(person: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in person.items():
        if key in _NOT_PERSONAL or value is None:
            continue
        if isinstance(value, Mapping):
            out += _values(value)
        elif isinstance(value, list):
            out += [str(v) for v in value]
        else:
            out.append(str(value))
    return out


async def logged(service: FastAPI | Platform[Any]) -> Logged:
    """The service's log entries, from its outbox rows for `mash.audit.<service>.v1`."""
    platform = service.state.platform if isinstance(service, FastAPI) else service
    outbox = platform.tables.outbox
    async with platform.sessions() as session:
        stmt = select(outbox).where(outbox.c.topic == audit_topic(platform.name))
        rows = (await session.execute(stmt.order_by(outbox.c.id))).all()
    entries = []
    for row in rows:
        data = json.loads(row.payload)
        AuditEntry.model_validate(data)
        assert dict(row.headers)["ce_type"] == audit_type(data["operation"])
        assert row.key == platform.name
        assert data["service"] == platform.name
        entries.append(data)
    text = json.dumps([[r.key, dict(r.headers), r.payload] for r in rows])
    return Logged(entries, text)


def keys_of(secret: str, *people: Mapping[str, Any] | None) -> set[str]:
    """Every pseudonymous key of these people (request bodies), as the hub makes them."""
    return {k for p in people if p for k in person_keys(secret, Person.model_validate(_person(p)))}


def _person(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k in Person.model_fields}


class TopicPublisher:
    """Puts events on one topic as the service that writes it would: with its principal
    (the registry's writer of the topic), under the key given."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, **kafka_options(producer_of(topic))
        )

    async def __aenter__(self) -> Self:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, key: str, event: CloudEvent) -> CloudEvent:
        await self._producer.send_and_wait(
            self.topic, event.value(), key=key.encode(), headers=event.headers()
        )
        return event
