"""Builders for the perpetrators' integration tests: settings, an injected clock, triage
decisions as triage publishes them (synthetic people with every kind of personal data),
a producer to put them on the topic, and a reader that knows when it has read it all."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from sqlalchemy import func, select

import perpetrators.config
from mash_tools.testing import TEST_PSEUDONYM_KEY, eventually, headers_of, kafka_options
from perpetrators import store
from shared import identity
from shared.envelope import CloudEvent
from shared.schemas import TriageDecided
from shared.topics import DECISIONS, TRIAGE_DECIDED
from tests.builders import settings_for
from tests.integration.kit import TopicPublisher

READ = ("perpetrators:read",)


def perpetrator_settings(bootstrap: str, database_url: str, group: str, **extra: Any) -> Any:
    return settings_for(perpetrators.config.Settings, bootstrap, database_url, group, **extra)


@dataclass
class Clock:
    """The service's clock under test: moved by hand."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def new_area() -> str:
    """An area no other test uses: the decisions topic is shared with other tests."""
    return f"p{uuid.uuid4().hex[:12]}"


def person(role: str, n: int, **overrides: Any) -> dict[str, Any]:
    """A synthetic person with every kind of personal data, unique to this test run."""
    tag = uuid.uuid4().hex[:8]
    found: dict[str, Any] = {
        "person_id": f"{role[0].upper()}{tag}{n}",
        "given_name": f"{role.capitalize()}given{tag}",
        "family_name": f"{role.capitalize()}family{tag}",
        "date_of_birth": date(1970 + n, 1 + n % 12, 1 + n % 27).isoformat(),
        "address": {
            "lines": [f"{n} Street{tag} Road", f"Town{tag}"],
            "postcode": f"SO{n} {tag[:3]}",
        },
        "contact": {
            "phone": f"07700 9{tag[:1].translate(_DIGITS)}{n:04d}",
            "email": f"{tag}@x.test",
        },
    }
    found.update(overrides)
    return found


_DIGITS = str.maketrans("abcdef", "123456")


def child(n: int, present: bool) -> dict[str, Any]:
    return {
        **person("child", n),
        "date_of_birth": date(2015, 1 + n % 12, 2).isoformat(),
        "present_at_incident": present,
        "school_urn": "123456",
    }


def decision(
    area: str,
    suspect: dict[str, Any] | None,
    victim: dict[str, Any],
    *,
    reported_at: datetime,
    risk_level: str = "standard",
    children: tuple[dict[str, Any], ...] = (),
    abuse_types: tuple[str, ...] = ("physical",),
    incident_id: uuid.UUID | None = None,
    decided_at: datetime | None = None,
    risk_basis: str = "dash_score",
) -> TriageDecided:
    """A decision as triage publishes it, with its incident."""
    incident_id = incident_id or uuid.uuid4()
    ref = f"HC-PERP-{uuid.uuid4().hex[:12]}"
    decided = decided_at or reported_at + timedelta(minutes=5)
    incident = {
        "incident_id": str(incident_id),
        "received_at": (reported_at + timedelta(minutes=1)).isoformat(),
        "control_room_ref": ref,
        "force": "hampshire",
        "area": area,
        "reported_at": reported_at.isoformat(),
        "abuse_types": list(abuse_types),
        "relationship": "ex_partner",
        "victim": victim,
        "suspect": suspect,
        "children": list(children),
        "notes": f"Notes naming {victim['given_name']} at {victim['address']['lines'][0]}",
    }
    return TriageDecided.model_validate(
        {
            "decision_id": str(uuid.uuid4()),
            "incident_id": str(incident_id),
            "control_room_ref": ref,
            "force": "hampshire",
            "area": area,
            "decided_at": decided.isoformat(),
            "policy_version": "test",
            "risk_level": risk_level,
            "risk_basis": risk_basis,
            "dash_score": None,
            "flags": [],
            "prior_incidents_12m": 0,
            "marac": {"eligible": False, "criteria": []},
            "referrals": [],
            "incident": incident,
        }
    )


def event_of(data: TriageDecided) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/mash/triage",
        type=TRIAGE_DECIDED,
        subject=str(data.incident_id),
        data=data.model_dump(mode="json"),
        time=data.decided_at,
    )


def victim_key(data: TriageDecided) -> str:
    """The Kafka key intake gives the victim's events."""
    return identity.victim_key(TEST_PSEUDONYM_KEY, data.incident.victim, data.incident_id)


class DecisionPublisher(TopicPublisher):
    """Puts decisions on `mash.triage.decisions.v1` as triage would."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, DECISIONS)

    async def publish(self, data: TriageDecided, event: CloudEvent | None = None) -> CloudEvent:
        """Publish the decision (as `event`, for a redelivery of the same message)."""
        return await self.send(victim_key(data), event or event_of(data))


class Tail:
    """Everything published on a topic from the moment it is opened; `settle` reads up to
    the topic's current end, so what is missing then was never published."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.records: list[Any] = []
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka_options("ops")
        )

    async def __aenter__(self) -> Tail:
        await self._consumer.start()
        await self._consumer._client.force_metadata_update()  # noqa: SLF001 - no public refresh
        partitions = self._consumer.partitions_for_topic(self.topic) or set()
        self._tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._tps)
        await self._consumer.seek_to_end(*self._tps)
        for tp in self._tps:
            await self._consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def settle(self) -> list[Any]:
        """Read until every partition's position reaches its end offset as of now."""
        ends = await self._consumer.end_offsets(self._tps)

        async def caught_up() -> bool:
            for records in (await self._consumer.getmany(timeout_ms=200)).values():
                self.records.extend(records)
            positions = [await self._consumer.position(tp) for tp in self._tps]
            return all(pos >= ends[tp] for pos, tp in zip(positions, self._tps, strict=True))

        await eventually(caught_up)
        return self.records

    def events(self, ce_type: str | None = None) -> Iterator[tuple[dict[str, str], Any]]:
        for record in self.records:
            headers = headers_of(record)
            if ce_type is None or headers.get("ce_type") == ce_type:
                yield headers, json.loads(record.value)


async def drained(app: FastAPI) -> None:
    """Wait until the service's outbox has published everything it committed."""
    platform = app.state.platform

    async def nothing_pending() -> bool:
        async with platform.sessions() as session:
            pending = (
                await session.execute(
                    select(func.count())
                    .select_from(store.messages.outbox)
                    .where(store.messages.outbox.c.published_at.is_(None))
                )
            ).scalar_one()
        return int(pending) == 0

    await eventually(nothing_pending)


async def outbox_events(app: FastAPI, topic: str) -> list[dict[str, Any]]:
    """The events the service has committed for `topic` (published or not), oldest first."""
    async with app.state.platform.sessions() as session:
        rows = (
            await session.execute(
                select(store.messages.outbox)
                .where(store.messages.outbox.c.topic == topic)
                .order_by(store.messages.outbox.c.id)
            )
        ).all()
    return [{"headers": dict(r.headers), "data": json.loads(r.payload)} for r in rows]
