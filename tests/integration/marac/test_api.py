"""Marac's API (contract section 6): meetings, lists, CSV, and every refusal."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest

import marac.app
from mash_tools.testing import bearer, eventually, running
from tests.integration.marac.kit import (
    ADMIN,
    READ,
    DecisionPublisher,
    day,
    decision,
    marac_settings,
    new_area,
    victim,
)

pytestmark = pytest.mark.kafka
# an id nothing has: the same in every process collecting the tests (pytest-xdist)
UNKNOWN = uuid.UUID(int=1, version=4)


@pytest.fixture
async def client(kafka_bootstrap: str, database_url: str, group: str) -> Any:
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client:
        yield client


async def post_meeting(client: httpx.AsyncClient, body: Any, *scopes: str) -> httpx.Response:
    return await client.post("/v1/meetings", json=body, headers=bearer(*(scopes or ADMIN)))


async def test_a_meeting_is_created_and_listed_by_date(client: httpx.AsyncClient) -> None:
    area = new_area()
    later = await post_meeting(client, {"area": area, "date": day(21), "capacity": 20})
    assert later.status_code == 201, later.text
    body = later.json()
    assert set(body) == {"meeting_id", "area", "date", "capacity", "listed"}
    assert uuid.UUID(body["meeting_id"])
    assert body | {"meeting_id": None} == {
        "meeting_id": None,
        "area": area,
        "date": day(21),
        "capacity": 20,
        "listed": 0,
    }
    sooner = await post_meeting(client, {"area": area, "date": day(7), "capacity": 1})
    other = await post_meeting(client, {"area": new_area(), "date": day(7), "capacity": 16})
    assert sooner.status_code == other.status_code == 201

    answer = await client.get("/v1/meetings", params={"area": area}, headers=bearer(*READ))
    assert answer.status_code == 200
    assert [m["meeting_id"] for m in answer.json()] == [
        sooner.json()["meeting_id"],
        body["meeting_id"],
    ]
    since = await client.get(
        "/v1/meetings", params={"area": area, "from": day(8)}, headers=bearer(*READ)
    )
    assert [m["date"] for m in since.json()] == [day(21)]


async def test_one_meeting_per_area_and_date(client: httpx.AsyncClient) -> None:
    body = {"area": new_area(), "date": day(10), "capacity": 16}
    assert (await post_meeting(client, body)).status_code == 201
    again = await post_meeting(client, {**body, "capacity": 8})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["status"] == 409


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"area": "Southampton"}, ["body", "area"]),
        ({"area": "south ampton"}, ["body", "area"]),
        ({"area": ""}, ["body", "area"]),
        ({"area": 7}, ["body", "area"]),
        ({"date": "08/12/2026"}, ["body", "date"]),
        ({"date": "2026-02-30"}, ["body", "date"]),
        ({"date": day(-1)}, ["body", "date"]),
        ({"capacity": 0}, ["body", "capacity"]),
        ({"capacity": 201}, ["body", "capacity"]),
        ({"capacity": "20"}, ["body", "capacity"]),
        ({"capacity": True}, ["body", "capacity"]),
        ({"capacity": 2.5}, ["body", "capacity"]),
        ({"capacity": None}, ["body", "capacity"]),
        ({"room": "B12"}, ["body", "room"]),
    ],
)
async def test_a_bad_meeting_is_refused_field_by_field(
    client: httpx.AsyncClient, change: dict[str, Any], loc: list[str]
) -> None:
    body = {"area": new_area(), "date": day(10), "capacity": 16, **change}
    answer = await post_meeting(client, body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert problem["status"] == 422
    assert loc in [e["loc"] for e in problem["errors"]]


@pytest.mark.parametrize("body", [{}, [], "text", {"area": "x"}])
async def test_a_malformed_body_is_422(client: httpx.AsyncClient, body: Any) -> None:
    assert (await post_meeting(client, body)).status_code == 422


async def test_malformed_json_is_422_not_500(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/v1/meetings",
        content=b"{not json",
        headers={**bearer(*ADMIN), "content-type": "application/json"},
    )
    assert answer.status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "scopes"),
    [
        ("POST", "/v1/meetings", ("marac:read",)),
        ("GET", "/v1/meetings", ("marac:admin",)),
        ("GET", f"/v1/meetings/{UNKNOWN}/cases", ("incidents:read",)),
        ("GET", f"/v1/meetings/{UNKNOWN}/cases.csv", ("triage:read",)),
        ("GET", "/v1/cases", ("referrals:read:*",)),
    ],
)
async def test_each_endpoint_needs_its_scope(
    client: httpx.AsyncClient, method: str, path: str, scopes: tuple[str, ...]
) -> None:
    body = {"area": new_area(), "date": day(10), "capacity": 16}
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forbidden = await client.request(method, path, json=body, headers=bearer(*scopes))
    assert forbidden.status_code == 403
    assert forbidden.json()["title"] == "Forbidden"


@pytest.mark.parametrize("suffix", ["cases", "cases.csv"])
async def test_an_unknown_meeting_is_404(client: httpx.AsyncClient, suffix: str) -> None:
    answer = await client.get(f"/v1/meetings/{uuid.uuid4()}/{suffix}", headers=bearer(*READ))
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/meetings/not-a-uuid/cases", {}),
        ("/v1/meetings", {"area": "Not A Slug"}),
        ("/v1/meetings", {"from": "yesterday"}),
        ("/v1/cases", {"status": "held"}),
        ("/v1/cases", {"area": "x" * 65}),
    ],
)
async def test_bad_queries_are_422(
    client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    answer = await client.get(path, params=params, headers=bearer(*READ))
    assert answer.status_code == 422
    assert answer.json()["errors"]


async def test_the_list_in_agenda_order_as_json_and_csv(
    client: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    area = new_area()
    created = await post_meeting(client, {"area": area, "date": day(7), "capacity": 16})
    meeting_id = created.json()["meeting_id"]
    adult_high = decision(area, victim(1), dash_score=22)
    adult_low = decision(area, victim(2, given_name="=HYPERLINK(1)"), dash_score=14)
    with_children = decision(area, victim(3), dash_score=14, children=2)
    async with DecisionPublisher(kafka_bootstrap) as triage:
        for one in (adult_low, with_children, adult_high):
            await triage.publish(one)

    async def listed() -> list[dict[str, Any]] | None:
        answer = await client.get(f"/v1/meetings/{meeting_id}/cases", headers=bearer(*READ))
        cases = answer.json()
        return cases if len(cases) == 3 else None

    cases = await eventually(listed)
    assert [c["incident_ids"][0] for c in cases] == [
        str(with_children.incident_id),
        str(adult_high.incident_id),
        str(adult_low.incident_id),
    ]
    answer = await client.get(f"/v1/meetings/{meeting_id}/cases.csv", headers=bearer(*READ))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["case_id"] for r in rows] == [c["case_id"] for c in cases]
    assert [r["position"] for r in rows] == ["1", "2", "3"]
    first = rows[0]
    assert first["meeting_date"] == day(7)
    assert first["priority"] == str(cases[0]["priority"])
    assert first["children_count"] == "2"
    assert first["victim_family_name"] == "Synthetic"
    assert first["criteria"] == "visible_high_risk"
    assert rows[2]["victim_given_name"] == "'=HYPERLINK(1)"
    everything = await client.get("/v1/cases", params={"area": area}, headers=bearer(*READ))
    assert [c["case_id"] for c in everything.json()] == [c["case_id"] for c in cases]
    none_waiting = await client.get(
        "/v1/cases", params={"area": area, "status": "awaiting_meeting"}, headers=bearer(*READ)
    )
    assert none_waiting.json() == []
