"""A review's chronology (contract 12, "Chronology for a review"), with the real broker, on
SQLite and on PostgreSQL (as records' insert-only role): a victim's events in order from
the services' log entries, and what each agency had been sent by a moment, exactly as its
topic carried it; scope `reviews:read`; every answer logged; pages as section 2 says."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import select

import records.app
from mash_tools.testing import TEST_PSEUDONYM_KEY, bearer, eventually, kafka_options, running
from records import store
from records.domain.chain import instant
from shared.audit import person_keys
from shared.envelope import CloudEvent
from shared.identity import victim_key
from shared.schemas import AuditEntry, Person
from shared.topics import DECISIONS, REFERRAL_CREATED, referrals_topic
from tests.integration.records.kit import (
    LogPublisher,
    entry,
    outbox_entries,
    records_settings,
    service_database,
    someone,
    until_all_kept,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
AUTH = bearer("reviews:read")


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Any


@pytest.fixture
async def service(kafka_bootstrap: str, database_url: str, group: str) -> AsyncIterator[Service]:
    url, owner = await service_database(database_url)
    settings = records_settings(
        kafka_bootstrap, url, group, migrations_database_url=owner, retention_days=30
    )
    app = records.app.create_app(settings)
    async with running(app) as client:
        yield Service(app, client, settings)


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[LogPublisher]:
    async with LogPublisher(kafka_bootstrap) as found:
        yield found


@pytest.fixture
async def notify(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """Notify's own producer: only its principal may write the referral topics."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_options("notify"))
    await producer.start()
    yield producer
    await producer.stop()


def referral(victim: Person, agency: str, incident_id: str, at: datetime) -> dict[str, Any]:
    """A referral record as notify discloses it (minimised: the victim's names and birth)."""
    return {
        "referral_id": str(uuid.uuid4()),
        "agency": agency,
        "incident_id": incident_id,
        "reason": "high_risk",
        "risk_level": "high",
        "created_at": instant(at),
        "data": {
            "victim": {
                "given_name": victim.given_name,
                "family_name": victim.family_name,
                "date_of_birth": str(victim.date_of_birth),
            },
            "note": "Élodie's café: non-ASCII text kept as sent",
        },
        "delivery": {"channel": "topic", "status": "pending", "attempts": 0},
    }


async def disclose(
    producer: AIOKafkaProducer, victim: Person, record: dict[str, Any], at: datetime
) -> bytes:
    """Publish the record on its agency's topic as notify does; the value's bytes."""
    event = CloudEvent(
        id=record["referral_id"],
        source="/mash/notify",
        type=REFERRAL_CREATED,
        subject=record["incident_id"],
        data=record,
        time=at,
    )
    # not compact, and not ASCII-escaped: what is kept is the value as sent, not a re-encoding
    value = json.dumps(record, ensure_ascii=False, indent=1).encode()
    key = victim_key(TEST_PSEUDONYM_KEY, victim, record["incident_id"]).encode()
    await producer.send_and_wait(
        referrals_topic(record["agency"]), value=value, key=key, headers=event.headers()
    )
    return value


@dataclass
class Seeded:
    victim: Person
    keys: list[str]
    t0: datetime
    incident_id: str
    idva: dict[str, Any]
    csc: dict[str, Any]
    idva_value: bytes
    csc_value: bytes
    entries: list[AuditEntry]


async def seed(
    service: Service, publisher: LogPublisher, notify: AIOKafkaProducer, base: datetime
) -> Seeded:
    """A victim taken through the hub: reported, decided, referred to two agencies, read
    from a topic and through the API, acknowledged, listed, decided again."""
    victim, other = someone(), someone()
    keys = list(person_keys(TEST_PSEUDONYM_KEY, victim))
    others = list(person_keys(TEST_PSEUDONYM_KEY, other))
    incident, case = str(uuid.uuid4()), str(uuid.uuid4())
    t = [base + timedelta(minutes=i) for i in range(12)]
    idva = referral(victim, "idva", incident, t[2])
    csc = referral(victim, "childrens-social-care", incident, t[3])
    stranger = str(uuid.uuid4())  # another person's referral on the same API page

    def logged(service_: str, operation: str, at: datetime, **extra: Any) -> AuditEntry:
        extra.setdefault("subjects", keys)
        return entry(service_, operation, at=at, **extra)

    entries = [
        logged("intake", "collected", t[0], resource="incident", ids=[incident], sub="cad"),
        logged(
            "intake", "consulted", t[0] + timedelta(seconds=30), resource="incident", ids=[incident]
        ),  # a read of the incident: no event of a review's
        logged(
            "triage",
            "combined",
            t[1],
            via="topic",
            route="mash.incidents.v1",
            resource="incident",
            ids=[incident, str(uuid.uuid4())],
        ),
        logged(
            "notify",
            "disclosed",
            t[2],
            route=referrals_topic("idva"),
            recipient="idva",
            ids=[idva["referral_id"], incident],
        ),
        logged(
            "notify",
            "disclosed",
            t[3],
            route=referrals_topic("childrens-social-care"),
            recipient="childrens-social-care",
            ids=[csc["referral_id"], incident],
        ),
        logged(
            "records",
            "consulted",
            t[4],
            sub="idva.caseworkers",
            via="topic",
            route=referrals_topic("idva"),
            recipient="idva",
            ids=[idva["referral_id"]],
        ),
        logged(
            "notify",
            "consulted",
            t[5],
            route="/v1/referrals",
            ids=[idva["referral_id"], stranger],
            subjects=keys + others,
        ),
        logged(
            "notify",
            "altered",
            t[6],
            route="/v1/referrals/{referral_id}/ack",
            ids=[idva["referral_id"], incident],
            status=200,
        ),
        logged(
            "marac",
            "combined",
            t[7],
            via="topic",
            route=DECISIONS,
            resource="marac_case",
            ids=[case, incident],
        ),
        logged(
            "triage",
            "altered",
            t[8],
            via="topic",
            route="mash.incidents.v1",
            resource="decision",
            ids=[incident],
        ),
    ]
    unrelated = entry("notify", "disclosed", at=t[2], subjects=others)
    idva_value = await disclose(notify, victim, idva, t[2])
    csc_value = await disclose(notify, victim, csc, t[3])
    for e in [*entries, unrelated]:
        await publisher.publish(e)
    await until_all_kept(service.app, [str(e.entry_id) for e in [*entries, unrelated]])
    await until_disclosed(service.app, 2)
    return Seeded(victim, keys, base, incident, idva, csc, idva_value, csc_value, entries)


async def disclosed_count(app: FastAPI) -> int:
    async with app.state.platform.sessions() as session:
        rows = (await session.execute(select(store.disclosures.c.referral_id))).all()
    return len(rows)


async def until_disclosed(app: FastAPI, count: int) -> None:
    async def enough() -> bool:
        return await disclosed_count(app) >= count

    await eventually(enough)


EXPECTED = [
    ("police", "incident reported"),
    ("mash", "decision"),
    ("idva", "referral disclosed"),
    ("childrens-social-care", "referral disclosed"),
    ("idva", "referral consulted"),
    ("idva", "referral consulted"),
    ("idva", "acknowledged"),
    ("marac", "listed"),
    ("mash", "decision"),
]


async def test_a_victims_chronology_lists_every_step_in_order_without_personal_data(
    service: Service, publisher: LogPublisher, notify: AIOKafkaProducer
) -> None:
    seeded = await seed(service, publisher, notify, datetime.now(UTC) - timedelta(days=1))
    answer = await service.client.get(
        "/v1/chronology", params={"subject": seeded.keys[0]}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    events = answer.json()
    assert [(e["agency"], e["event"]) for e in events] == EXPECTED
    shown = [e for e in seeded.entries if e.resource != "incident" or e.operation != "consulted"]
    assert [e["at"] for e in events] == [instant(e.at) for e in shown]
    assert events[2]["ids"] == [seeded.idva["referral_id"], seeded.incident_id]
    assert events[2]["summary"] == "Referral to idva disclosed on mash.referrals.idva.v1"
    assert events[5]["ids"] == [seeded.idva["referral_id"]]  # not the other person's
    assert set(events[0]) == {"at", "agency", "event", "ids", "summary"}
    text = answer.text
    victim = seeded.victim
    assert victim.given_name not in text
    assert victim.family_name not in text
    assert str(victim.person_id) not in text
    # the same by names and date of birth
    by_names = await service.client.post(
        "/v1/chronology/search",
        json={
            "given_name": victim.given_name,
            "family_name": victim.family_name,
            "date_of_birth": str(victim.date_of_birth),
        },
        headers=AUTH,
    )
    assert by_names.status_code == 200, by_names.text
    assert by_names.json() == events
    # each answer is in the records log, as consulted
    logged = [e for e in await outbox_entries(service.app) if e["route"] == "/v1/chronology"]
    assert len(logged) == 1
    [read] = logged
    assert (read["operation"], read["resource"], read["sub"]) == ("consulted", "records", "tester")
    assert len(read["ids"]) == len(EXPECTED)
    assert set(seeded.keys) <= set(read["subjects"])
    searched = [e for e in await outbox_entries(service.app) if e["route"].endswith("/search")]
    assert searched
    assert searched[-1]["ids"] == read["ids"]


async def test_as_of_shows_what_the_agency_had_received_exactly_as_its_topic_carried_it(
    service: Service, publisher: LogPublisher, notify: AIOKafkaProducer
) -> None:
    seeded = await seed(service, publisher, notify, datetime.now(UTC) - timedelta(days=1))

    async def received(agency: str, as_of: datetime) -> httpx.Response:
        params = {"subject": seeded.keys[1], "agency": agency, "as_of": as_of.isoformat()}
        found = await service.client.get("/v1/chronology", params=params, headers=AUTH)
        assert found.status_code == 200, found.text
        return found

    before = await received("idva", seeded.t0 + timedelta(minutes=1))
    assert before.json() == []
    sent = await received("idva", seeded.t0 + timedelta(minutes=2))  # at: included
    assert sent.content == b"[" + seeded.idva_value + b"]"  # byte for byte
    assert sent.json() == [seeded.idva]
    csc = "childrens-social-care"
    assert (await received(csc, seeded.t0 + timedelta(minutes=2, seconds=30))).json() == []
    later = await received(csc, datetime.now(UTC))
    assert later.content == b"[" + seeded.csc_value + b"]"
    # logged as consulted: the referral ids, the person's keys
    logged = [e for e in await outbox_entries(service.app) if e["route"] == "/v1/chronology"]
    assert [e["ids"] for e in logged] == [
        [],
        [seeded.idva["referral_id"]],
        [],
        [seeded.csc["referral_id"]],
    ]
    assert set(seeded.keys) <= set(logged[1]["subjects"])
    # by names, and as CSV
    body = {"person_id": seeded.victim.person_id}
    params = {"agency": "idva", "as_of": instant(datetime.now(UTC))}
    found = await service.client.post(
        "/v1/chronology/search", params=params, json=body, headers=AUTH
    )
    assert found.content == b"[" + seeded.idva_value + b"]"
    sheet = await service.client.get(
        "/v1/chronology.csv", params={"subject": seeded.keys[0], **params}, headers=AUTH
    )
    assert sheet.status_code == 200, sheet.text
    [row] = list(csv.DictReader(io.StringIO(sheet.text)))
    assert row["referral_id"] == seeded.idva["referral_id"]
    assert row["record"].encode() == seeded.idva_value


async def test_the_chronology_as_csv_and_in_pages(
    service: Service, publisher: LogPublisher, notify: AIOKafkaProducer
) -> None:
    seeded = await seed(service, publisher, notify, datetime.now(UTC) - timedelta(days=1))
    subject = seeded.keys[0]
    sheet = await service.client.get(
        "/v1/chronology.csv", params={"subject": subject}, headers=AUTH
    )
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [(r["agency"], r["event"]) for r in rows] == EXPECTED
    url: str | None = f"/v1/chronology?subject={subject}&limit=4"
    pages: list[list[dict[str, Any]]] = []
    while url is not None:
        page = await service.client.get(url, headers=AUTH)
        assert page.status_code == 200, page.text
        pages.append(page.json())
        link = page.headers.get("link")
        url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None  # type: ignore[union-attr]
    assert [len(p) for p in pages] == [4, 4, 1]
    assert [(e["agency"], e["event"]) for p in pages for e in p] == EXPECTED


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "501"},
        {"after": "not-a-cursor"},
        {"as_of": "2026-01-01T00:00:00Z"},  # as_of needs an agency
        {"agency": "nobody"},
        {"agency": "idva", "as_of": "2026-01-01"},  # not an instant
    ],
)
async def test_bad_pages_and_views_are_422(service: Service, query: dict[str, str]) -> None:
    answer = await service.client.get(
        "/v1/chronology", params={"subject": "k", **query}, headers=AUTH
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_cursor_of_the_records_list_is_not_one_of_the_chronology(
    service: Service, publisher: LogPublisher
) -> None:
    person = someone()
    subjects = list(person_keys(TEST_PSEUDONYM_KEY, person))
    published = [entry("intake", "collected", subjects=subjects) for _ in range(2)]
    for e in published:
        await publisher.publish(e)
    await until_all_kept(service.app, [str(e.entry_id) for e in published])
    listing = await service.client.get(
        "/v1/records", params={"subject": subjects[0], "limit": 1}, headers=bearer("records:read")
    )
    cursor = re.search(r"after=([^&>]+)", listing.headers["link"]).group(1)  # type: ignore[union-attr]
    answer = await service.client.get(
        f"/v1/chronology?subject={subjects[0]}&after={cursor}", headers=AUTH
    )
    assert answer.status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/chronology?subject=k"),
        ("GET", "/v1/chronology?subject=k&agency=idva"),
        ("GET", "/v1/chronology.csv?subject=k"),
        ("POST", "/v1/chronology/search"),
    ],
)
async def test_without_reviews_read_403(service: Service, method: str, path: str) -> None:
    body = {"person_id": "N1"} if method == "POST" else None
    for scopes in (("records:read",), ("referrals:read:*",)):
        answer = await service.client.request(method, path, json=body, headers=bearer(*scopes))
        assert answer.status_code == 403, answer.text
    assert (await service.client.request(method, path, json=body)).status_code == 401


async def test_disclosed_records_are_kept_for_the_retention_period_and_their_erasure_logged(
    service: Service, notify: AIOKafkaProducer
) -> None:
    victim = someone()
    long_ago = datetime.now(UTC) - timedelta(days=service.settings.retention_days + 1)
    old = referral(victim, "idva", str(uuid.uuid4()), long_ago)
    young = referral(victim, "idva", str(uuid.uuid4()), datetime.now(UTC))
    await disclose(notify, victim, old, long_ago)
    await disclose(notify, victim, young, datetime.now(UTC))
    await until_disclosed(service.app, 2)
    platform = service.app.state.platform
    assert await service.app.state.retention.run_once(platform) >= 1
    async with platform.sessions() as session:
        kept = (await session.execute(select(store.disclosures.c.referral_id))).scalars().all()
        people = (
            (await session.execute(select(store.disclosure_subjects.c.referral_id))).scalars().all()
        )
    assert old["referral_id"] not in kept
    assert young["referral_id"] in kept
    assert old["referral_id"] not in people
    erased = [e for e in await outbox_entries(service.app, via="job") if e["operation"] == "erased"]
    [erasure] = [e for e in erased if e["resource"] == "referral"]
    assert erasure["ids"] == [old["referral_id"]]
    assert set(person_keys(TEST_PSEUDONYM_KEY, victim)) <= set(erasure["subjects"])
    assert erasure["sub"] == "job:records.retention"


async def test_a_referral_on_another_agencys_topic_is_not_kept(
    service: Service, notify: AIOKafkaProducer
) -> None:
    victim = someone()
    stray = referral(victim, "school", str(uuid.uuid4()), datetime.now(UTC))
    good = referral(victim, "idva", str(uuid.uuid4()), datetime.now(UTC))
    event = CloudEvent(
        id=stray["referral_id"],
        source="/mash/notify",
        type=REFERRAL_CREATED,
        subject=stray["incident_id"],
        data=stray,
    )
    # the same key, so the same partition: the stray one is handled before the good one
    key = victim_key(TEST_PSEUDONYM_KEY, victim, good["incident_id"]).encode()
    await notify.send_and_wait(
        referrals_topic("idva"), value=event.value(), key=key, headers=event.headers()
    )
    await disclose(notify, victim, good, datetime.now(UTC))
    await until_disclosed(service.app, 1)
    async with service.app.state.platform.sessions() as session:
        kept = (await session.execute(select(store.disclosures.c.referral_id))).scalars().all()
    assert good["referral_id"] in kept
    assert stray["referral_id"] not in kept
