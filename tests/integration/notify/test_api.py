"""Notify's API: per-agency scopes (401/403), agency isolation, validation (422),
acknowledgements and subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mash_tools.testing import bearer, eventually, running
from tests.integration.notify.kit import notify_app, publish, referrals_of
from tests.unit.notify import builders

pytestmark = pytest.mark.kafka
# an id nothing has: the same in every process collecting the tests (pytest-xdist)
UNKNOWN = uuid.UUID(int=1, version=4)
AGENCIES = ["childrens-social-care", "school", "idva", "safeguarding-team", "victim-support"]


@dataclass
class Service:
    client: httpx.AsyncClient
    incident_id: str
    ids: dict[str, str]  # agency -> a referral id of that agency


@pytest.fixture(scope="module")
async def client(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """One running notify for the module: no test changes what another test reads, since
    each works on an incident of its own (`service`)."""
    database = Path(tmp_path_factory.mktemp("notify-api")) / "notify.db"
    group = f"test-{uuid.uuid4().hex[:8]}"
    app = notify_app(kafka_bootstrap, f"sqlite+aiosqlite:///{database}", group)
    async with running(app) as client:
        yield client


@pytest.fixture
async def service(kafka_bootstrap: str, client: httpx.AsyncClient) -> Service:
    """A fresh decision's referrals, one per agency, for this test alone."""
    data = builders.decision_data()
    incident_id = data["incident_id"]
    await publish(kafka_bootstrap, data)
    ids: dict[str, str] = {}
    for agency in AGENCIES:

        async def made(agency: str = agency) -> list[dict[str, Any]]:
            return await referrals_of(client, agency, incident_id)

        found = await eventually(made)
        ids[agency] = next(r["referral_id"] for r in found if r["subject"] in ("victim", "child:0"))
    return Service(client, incident_id, ids)


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/referrals?agency=idva"),
        ("POST", f"/v1/referrals/{UNKNOWN}/ack"),
        ("PUT", "/v1/subscriptions/idva"),
        ("DELETE", "/v1/subscriptions/idva"),
    ],
)
async def test_no_token_or_a_bad_one_is_401(service: Service, method: str, path: str) -> None:
    problem(await service.client.request(method, path), 401)
    bad = {"Authorization": "Bearer not-a-token"}
    problem(await service.client.request(method, path, headers=bad), 401)


async def test_an_agency_reads_its_own_referrals_only(service: Service) -> None:
    answer = await service.client.get(
        "/v1/referrals", params={"agency": "idva"}, headers=bearer("referrals:read:idva")
    )
    assert answer.status_code == 200
    assert answer.json()
    assert {r["agency"] for r in answer.json()} == {"idva"}


@pytest.mark.parametrize("agency", [a for a in AGENCIES if a != "idva"])
async def test_an_agency_never_reads_another_agencys_referrals(
    service: Service, agency: str
) -> None:
    answer = await service.client.get(
        "/v1/referrals", params={"agency": agency}, headers=bearer("referrals:read:idva")
    )
    problem(answer, 403)


async def test_ops_read_every_agency(service: Service) -> None:
    for agency in AGENCIES:
        found = await referrals_of(service.client, agency, service.incident_id)
        assert [r["referral_id"] for r in found if r["subject"] in ("victim", "child:0")] == [
            service.ids[agency]
        ]


async def test_a_token_without_a_referrals_scope_is_403(service: Service) -> None:
    answer = await service.client.get(
        "/v1/referrals", params={"agency": "idva"}, headers=bearer("incidents:read")
    )
    problem(answer, 403)


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({}, ["query", "agency"]),
        ({"agency": "police"}, ["query", "agency"]),
        ({"agency": "idva", "incident_id": "not-a-uuid"}, ["query", "incident_id"]),
    ],
)
async def test_missing_or_unknown_agency_is_422(
    service: Service, params: dict[str, str], loc: list[str]
) -> None:
    answer = await service.client.get(
        "/v1/referrals", params=params, headers=bearer("referrals:read:*")
    )
    assert problem(answer, 422)["errors"][0]["loc"] == loc


async def test_filter_by_incident(service: Service) -> None:
    assert await referrals_of(service.client, "idva", str(uuid.uuid4())) == []


async def test_acknowledge_own_referral(service: Service) -> None:
    referral_id = service.ids["victim-support"]
    path = f"/v1/referrals/{referral_id}/ack"
    problem(await service.client.post(path, headers=bearer("referrals:ack:idva")), 403)
    problem(await service.client.post(path, headers=bearer("referrals:read:victim-support")), 403)
    answer = await service.client.post(path, headers=bearer("referrals:ack:victim-support"))
    assert answer.status_code == 204
    (record,) = await referrals_of(service.client, "victim-support", service.incident_id)
    first = record["acknowledged_at"]
    assert first is not None
    again = await service.client.post(path, headers=bearer("referrals:ack:victim-support"))
    assert again.status_code == 204
    (record,) = await referrals_of(service.client, "victim-support", service.incident_id)
    assert record["acknowledged_at"] == first  # the first acknowledgement counts
    (other,) = await referrals_of(service.client, "idva", service.incident_id)
    assert other["acknowledged_at"] is None


async def test_acknowledging_an_unknown_or_malformed_id(service: Service) -> None:
    headers = bearer("referrals:ack:idva")
    problem(await service.client.post(f"/v1/referrals/{uuid.uuid4()}/ack", headers=headers), 404)
    problem(await service.client.post("/v1/referrals/nope/ack", headers=headers), 422)


async def test_subscriptions_need_their_scope(service: Service) -> None:
    body = {"webhook_url": "http://127.0.0.1:9/hook", "secret": "s"}
    for scope in ("referrals:read:*", "subscriptions:write", "subscriptions:write:*"):
        answer = await service.client.put(
            "/v1/subscriptions/idva", json=body, headers=bearer(scope)
        )
        problem(answer, 403)


async def test_one_agencys_subscription_scope_cannot_touch_anothers(service: Service) -> None:
    """`subscriptions:write:idva` may not PUT, DELETE or redeliver the school's (contract
    section 5); the school's own scope may."""
    idva, school = bearer("subscriptions:write:idva"), bearer("subscriptions:write:school")
    body = {"webhook_url": "http://127.0.0.1:9/hook", "secret": "s3cret"}
    since = {"since": "2026-01-01T00:00:00Z"}
    client = service.client
    problem(await client.put("/v1/subscriptions/school", json=body, headers=idva), 403)
    assert (
        await client.put("/v1/subscriptions/school", json=body, headers=school)
    ).status_code == 200
    problem(await client.post("/v1/subscriptions/school/redeliver", json=since, headers=idva), 403)
    problem(await client.delete("/v1/subscriptions/school", headers=idva), 403)
    redelivered = await client.post(
        "/v1/subscriptions/school/redeliver", json=since, headers=school
    )
    assert redelivered.json() == {"queued": 0}
    assert (await client.delete("/v1/subscriptions/school", headers=school)).status_code == 204


async def test_subscribe_and_unsubscribe(service: Service) -> None:
    headers = bearer("subscriptions:write:school")
    body = {"webhook_url": "https://school.example.org/mash", "secret": "s3cret"}
    answer = await service.client.put("/v1/subscriptions/school", json=body, headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {"agency": "school", "webhook_url": body["webhook_url"]}
    assert "s3cret" not in answer.text
    assert (
        await service.client.delete("/v1/subscriptions/school", headers=headers)
    ).status_code == 204
    problem(await service.client.delete("/v1/subscriptions/school", headers=headers), 404)


@pytest.mark.parametrize("agency", ["police", "IDVA", "school "])
async def test_an_unknown_agency_has_no_subscription(service: Service, agency: str) -> None:
    headers = bearer("subscriptions:write:idva")
    body = {"webhook_url": "https://x.example.org/", "secret": "s"}
    problem(
        await service.client.put(f"/v1/subscriptions/{agency}", json=body, headers=headers), 404
    )
    problem(await service.client.delete(f"/v1/subscriptions/{agency}", headers=headers), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"webhook_url": "ftp://x.example.org/", "secret": "s"}, "webhook_url"),
        ({"webhook_url": "not a url", "secret": "s"}, "webhook_url"),
        ({"webhook_url": "file:///etc/passwd", "secret": "s"}, "webhook_url"),
        ({"webhook_url": "https://x.example.org/"}, "secret"),
        ({"webhook_url": "https://x.example.org/", "secret": ""}, "secret"),
        ({"webhook_url": "https://x.example.org/", "secret": 5}, "secret"),
        ({"webhook_url": "https://x.example.org/", "secret": "s", "extra": 1}, "extra"),
    ],
)
async def test_a_bad_subscription_is_422(
    service: Service, body: dict[str, Any], field: str
) -> None:
    answer = await service.client.put(
        "/v1/subscriptions/idva", json=body, headers=bearer("subscriptions:write:idva")
    )
    assert problem(answer, 422)["errors"][0]["loc"] == ["body", field]


async def test_malformed_json_is_not_a_500(service: Service) -> None:
    answer = await service.client.put(
        "/v1/subscriptions/idva",
        content=b"{not json",
        headers={**bearer("subscriptions:write:idva"), "content-type": "application/json"},
    )
    assert answer.status_code in (400, 422)
