"""Perpetrators' API (contract section 10): refusals, look-ups, and the audit of each read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import perpetrators.app
from mash_tools.testing import bearer, eventually, running, token
from shared.topics import audit_topic
from tests.integration.perpetrators.kit import (
    READ,
    Clock,
    DecisionPublisher,
    decision,
    new_area,
    outbox_events,
    perpetrator_settings,
    person,
)

pytestmark = pytest.mark.kafka
# an id nothing has: the same in every process collecting the tests (pytest-xdist)
UNKNOWN = uuid.UUID(int=1, version=4)
ROUTES = ("/v1/perpetrators", "/v1/perpetrators.csv", f"/v1/perpetrators/{UNKNOWN.hex}")


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient
    clock: Clock


@pytest.fixture
async def service(kafka_bootstrap: str, sqlite_url: str, group: str) -> Any:
    clock = Clock()
    app = perpetrators.app.create_app(
        perpetrator_settings(kafka_bootstrap, sqlite_url, group), clock=clock
    )
    async with running(app) as client:
        yield Service(app, client, clock)


@pytest.mark.parametrize("route", ROUTES)
async def test_no_token_is_401_and_a_token_without_the_scope_is_403_and_neither_is_audited(
    service: Service, route: str
) -> None:
    app, client = service.app, service.client
    params = {"area": "southampton"}
    assert (await client.get(route, params=params)).status_code == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert (await client.get(route, params=params, headers=bad)).status_code == 401
    other = {"Authorization": f"Bearer {token('marac:read', 'triage:read')}"}
    refused = await client.get(route, params=params, headers=other)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert await outbox_events(app, audit_topic("perpetrators")) == []


async def test_an_unknown_perpetrator_is_404_and_the_attempt_is_audited(
    service: Service,
) -> None:
    app, client = service.app, service.client
    unknown = uuid.uuid4().hex
    answer = await client.get(f"/v1/perpetrators/{unknown}", headers=bearer(*READ))
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    # committed before the answer: it is in the outbox already
    [audit] = await outbox_events(app, audit_topic("perpetrators"))
    assert audit["data"] | {"at": None, "entry_id": None} == {
        "at": None,
        "entry_id": None,
        "sub": "tester",
        "service": "perpetrators",
        "operation": "consulted",
        "via": "api",
        "route": "/v1/perpetrators/{perpetrator_id}",
        "resource": "perpetrator",
        "ids": [unknown],
        "subjects": [],  # nobody known by that id
        "recipient": None,
        "status": 404,
    }
    assert audit["headers"]["ce_type"] == "mash.audit.consulted"
    assert audit["headers"]["ce_subject"] == unknown


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "area"), ({"area": "Not A Slug"}, "area"), ({"area": "x", "cohort": "some"}, "cohort")],
)
async def test_a_bad_query_is_422_naming_the_field(
    service: Service, params: dict[str, str], field: str
) -> None:
    client = service.client
    for route in ROUTES[:2]:
        answer = await client.get(route, params=params, headers=bearer(*READ))
        assert answer.status_code == 422
        assert [e["loc"][-1] for e in answer.json()["errors"]] == [field]


async def test_a_list_read_is_audited_with_the_ids_it_disclosed(
    service: Service, kafka_bootstrap: str
) -> None:
    app, client = service.app, service.client
    area = new_area()
    clock = service.clock
    async with DecisionPublisher(kafka_bootstrap) as triage:
        for n in (1, 2):
            reported = clock.now - timedelta(days=n)
            await triage.publish(
                decision(area, person("suspect", n), person("victim", n), reported_at=reported)
            )

    async def both() -> list[Any] | None:
        answer = await client.get(
            "/v1/perpetrators", params={"area": area, "cohort": "all"}, headers=bearer(*READ)
        )
        found = answer.json()
        return found if len(found) == 2 else None

    found = await eventually(both)
    audits = [e["data"] for e in await outbox_events(app, audit_topic("perpetrators"))]
    assert audits[-1]["ids"] == [p["perpetrator_id"] for p in found]
    assert audits[-1]["route"] == "/v1/perpetrators"
    # each perpetrator by both their keys (person id; names and date of birth)
    assert len(audits[-1]["subjects"]) == 4


async def test_incidents_without_an_identifiable_suspect_score_nobody(
    service: Service, kafka_bootstrap: str
) -> None:
    client, clock = service.client, service.clock
    area = new_area()
    nameless = {"given_name": "Unknown", "family_name": "Suspect"}  # no id, no date of birth
    marker = person("suspect", 9)
    async with DecisionPublisher(kafka_bootstrap) as triage:
        victim = person("victim", 3)
        for suspect in (None, nameless, nameless):
            await triage.publish(decision(area, suspect, victim, reported_at=clock.now))
        # the same victim's key: one partition, so this one is handled after those
        await triage.publish(decision(area, marker, victim, reported_at=clock.now))

    async def scored() -> list[Any] | None:
        answer = await client.get(
            "/v1/perpetrators", params={"area": area, "cohort": "all"}, headers=bearer(*READ)
        )
        return list(answer.json()) or None

    [only] = await eventually(scored)
    assert only["person"]["given_name"] == marker["given_name"]
    assert only["incidents_24m"] == 1


async def test_an_incident_reported_with_another_offset_keeps_its_instant(
    service: Service, kafka_bootstrap: str
) -> None:
    client, clock = service.client, service.clock
    area = new_area()
    summer_time = timezone(timedelta(hours=1))
    reported = (clock.now - timedelta(days=30, minutes=-30)).astimezone(summer_time)
    async with DecisionPublisher(kafka_bootstrap) as triage:
        await triage.publish(
            decision(area, person("suspect", 4), person("victim", 4), reported_at=reported)
        )

    async def scored() -> list[Any] | None:
        answer = await client.get(
            "/v1/perpetrators", params={"area": area, "cohort": "all"}, headers=bearer(*READ)
        )
        return list(answer.json()) or None

    [only] = await eventually(scored)
    assert datetime.fromisoformat(only["last_incident_at"]) == reported
    assert only["components"]["recency"] == 5  # 29.98 days ago, not 30 days and an hour
