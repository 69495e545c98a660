"""A case itself (contract section 6): its sources, each agency's research (history
kept, shown on the meeting list), scopes enforced."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import marac.app
from mash_tools.testing import TopicReader, bearer, data_of, eventually, running
from shared.topics import audit_topic
from tests.integration.marac.kit import (
    ADMIN,
    READ,
    DecisionPublisher,
    day,
    decision,
    marac_settings,
    new_area,
    refer_scope,
    referral_body,
    victim,
)

pytestmark = pytest.mark.kafka


def act(agency: str) -> tuple[str, ...]:
    return (f"marac:act:{agency}",)


@pytest.fixture
async def client(kafka_bootstrap: str, database_url: str, group: str) -> Any:
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client:
        yield client


async def listed_case(
    client: httpx.AsyncClient, kafka_bootstrap: str, n: int
) -> tuple[str, str, Any, dict[str, Any]]:
    """A victim reported by the police, then referred by health: (meeting, case, incident,
    referral answer)."""
    area = new_area()
    answer = await client.post(
        "/v1/meetings", json={"area": area, "date": day(7), "capacity": 9}, headers=bearer(*ADMIN)
    )
    meeting_id = answer.json()["meeting_id"]
    person = victim(n)
    async with DecisionPublisher(kafka_bootstrap) as triage:
        incident = decision(area, person)
        await triage.publish(incident)

    async def on_list() -> list[Any]:
        got = await client.get(f"/v1/meetings/{meeting_id}/cases", headers=bearer(*READ))
        return list(got.json())

    [case] = await eventually(on_list)
    body = referral_body(area, {**person, "person_id": None}, criteria=["potential_escalation"])
    body["dash"] = None
    referred = await client.post(
        "/v1/marac-referrals", json=body, headers=bearer(*refer_scope("health"))
    )
    assert referred.status_code == 202, referred.text
    return meeting_id, case["case_id"], incident, body | referred.json()


async def test_a_case_shows_its_sources_from_the_police_and_from_agencies(
    client: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    _, case_id, incident, referral = await listed_case(client, kafka_bootstrap, 71)
    answer = await client.get(f"/v1/cases/{case_id}", headers=bearer(*READ))
    assert answer.status_code == 200, answer.text
    case = answer.json()
    assert case["case_id"] == case_id
    assert case["status"] == "listed"
    assert case["incident_ids"] == [str(incident.incident_id)]
    police, health = case["sources"]
    assert police["kind"] == "incident"
    assert (police["incident_id"], police["agency"]) == (str(incident.incident_id), "police")
    assert health | {"received_at": None} == {
        "kind": "marac_referral",
        "incident_id": None,
        "marac_referral_id": referral["marac_referral_id"],
        "agency": "health",
        "reference": referral["referral_ref"],
        "criteria": ["potential_escalation"],
        "received_at": None,
    }
    assert (case["research"], case["actions"], case["research_returned"]) == ([], [], [])
    unknown = await client.get(
        f"/v1/cases/{'0' * 8}-0000-4000-8000-{'0' * 12}", headers=bearer(*READ)
    )
    assert unknown.status_code == 404
    assert (
        await client.get(f"/v1/cases/{case_id}", headers=bearer(*act("health")))
    ).status_code == 403


async def test_research_keeps_one_current_version_per_agency_and_its_history(
    client: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    meeting_id, case_id, _, _ = await listed_case(client, kafka_bootstrap, 72)
    url = f"/v1/cases/{case_id}/research/housing"
    async with TopicReader(kafka_bootstrap, audit_topic("marac")) as log:
        first = await client.put(
            url,
            json={"known": False, "completed_by": "Testofficer Synthetic"},
            headers=bearer(*act("housing")),
        )
        assert first.status_code == 200, first.text
        assert first.json()["version"] == 1
        second = await client.put(
            url,
            json={
                "known": True,
                "summary": "Tenancy in joint names.",
                "risks": "Rent arrears used as control.",
                "completed_by": "Testofficer Synthetic",
            },
            headers=bearer(*act("housing")),
        )
        assert second.json()["version"] == 2
        police = await client.put(
            f"/v1/cases/{case_id}/research/police",
            json={"known": True, "summary": "Two callouts.", "completed_by": "PC 1"},
            headers=bearer(*act("police")),
        )
        assert police.status_code == 200

        async def logged() -> list[str] | None:
            await log.poll()
            ops = [data_of(r)["operation"] for r in log.records if case_id in data_of(r)["ids"]]
            writes = [op for op in ops if op != "consulted"]
            return writes if len(writes) == 3 else None

        assert await eventually(logged) == ["collected", "altered", "collected"]

    case = (await client.get(f"/v1/cases/{case_id}", headers=bearer(*READ))).json()
    assert [(r["agency"], r["version"], r["known"]) for r in case["research"]] == [
        ("housing", 2, True),
        ("police", 1, True),
    ]
    assert case["research"][0]["risks"] == "Rent arrears used as control."
    [listed] = (await client.get(f"/v1/meetings/{meeting_id}/cases", headers=bearer(*READ))).json()
    assert listed["research_returned"] == ["housing", "police"]

    history = await client.get(f"{url}/history", headers=bearer(*READ))
    assert [v["version"] for v in history.json()] == [2, 1]
    assert "link" not in history.headers
    own = await client.get(f"{url}/history", params={"limit": 1}, headers=bearer(*act("housing")))
    assert [v["version"] for v in own.json()] == [2]
    next_page = own.headers["link"].split(">")[0].lstrip("<")
    rest = await client.get(next_page, headers=bearer(*act("housing")))
    assert [v["version"] for v in rest.json()] == [1]
    assert "link" not in rest.headers
    forged = await client.get(f"{url}/history", params={"after": "x"}, headers=bearer(*READ))
    assert forged.status_code == 422


@pytest.mark.parametrize(
    ("scopes", "agency", "body", "status"),
    [
        (act("health"), "housing", {"known": True, "completed_by": "A"}, 403),
        (READ, "housing", {"known": True, "completed_by": "A"}, 403),
        (ADMIN, "housing", {"known": True, "completed_by": "A"}, 403),
        ((), "housing", {"known": True, "completed_by": "A"}, 401),
        (
            act("housing"),
            "housing",
            {"known": True, "completed_by": "A", "summary": "x" * 8001},
            422,
        ),
        (act("housing"), "housing", {"known": "yes", "completed_by": "A"}, 422),
        (act("housing"), "housing", {"known": True}, 422),
        (act("nobody"), "nobody", {"known": True, "completed_by": "A"}, 422),
    ],
)
async def test_research_is_recorded_only_by_its_own_agency_and_checked(
    client: httpx.AsyncClient,
    kafka_bootstrap: str,
    scopes: tuple[str, ...],
    agency: str,
    body: dict[str, Any],
    status: int,
) -> None:
    _, case_id, _, _ = await listed_case(client, kafka_bootstrap, 73)
    headers = bearer(*scopes) if scopes else {}
    answer = await client.put(f"/v1/cases/{case_id}/research/{agency}", json=body, headers=headers)
    assert answer.status_code == status, answer.text
    case = (await client.get(f"/v1/cases/{case_id}", headers=bearer(*READ))).json()
    assert case["research"] == []
    history = await client.get(
        f"/v1/cases/{case_id}/research/housing/history", headers=bearer(*act("health"))
    )
    assert history.status_code == 403


async def test_research_on_an_unknown_case_is_404(client: httpx.AsyncClient) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    answer = await client.put(
        f"/v1/cases/{unknown}/research/housing",
        json={"known": True, "completed_by": "A"},
        headers=bearer(*act("housing")),
    )
    assert answer.status_code == 404
    history = await client.get(
        f"/v1/cases/{unknown}/research/housing/history", headers=bearer(*READ)
    )
    assert history.status_code == 404
