"""Agencies' MARAC referrals (contract section 6): the form validated field by field,
idempotent on the agency's reference, the victim joined to their case by the identity
rule, announced on `mash.marac.v1` without personal data, and logged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import marac.app
from marac import store
from mash_tools.testing import TopicReader, bearer, data_of, eventually, headers_of, running
from shared.topics import MARAC, MARAC_REFERRAL_RECEIVED, audit_topic
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
HEALTH = refer_scope("health")


@pytest.fixture
def app(kafka_bootstrap: str, database_url: str, group: str) -> Any:
    return marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))


async def refer(client: httpx.AsyncClient, body: Any, *scopes: str) -> httpx.Response:
    return await client.post("/v1/marac-referrals", json=body, headers=bearer(*(scopes or HEALTH)))


async def meeting(client: httpx.AsyncClient, area: str, offset: int = 7) -> str:
    answer = await client.post(
        "/v1/meetings",
        json={"area": area, "date": day(offset), "capacity": 16},
        headers=bearer(*ADMIN),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["meeting_id"])


async def cases_on(client: httpx.AsyncClient, meeting_id: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/v1/meetings/{meeting_id}/cases", headers=bearer(*READ))
    assert answer.status_code == 200, answer.text
    return list(answer.json())


async def counts(app: Any) -> tuple[int, int, int]:
    """Rows of referrals, cases and identity keys: what a refusal must leave unchanged."""
    async with app.state.platform.sessions() as session:
        found = []
        for table in (store.marac_referrals, store.cases, store.identities):
            found.append((await session.execute(select(func.count()).select_from(table))).scalar())
    return found[0], found[1], found[2]


async def referrals_of(app: Any, case_id: str) -> list[Any]:
    async with app.state.platform.sessions() as session:
        stmt = select(store.marac_referrals).where(store.marac_referrals.c.case_id == case_id)
        return list((await session.execute(stmt)).all())


@pytest.mark.parametrize("same_person_id", [True, False])
async def test_a_health_referral_joins_the_case_of_a_victim_first_seen_by_the_police(
    app: Any, kafka_bootstrap: str, same_person_id: bool
) -> None:
    area = new_area()
    async with running(app) as client, DecisionPublisher(kafka_bootstrap) as triage:
        first = await meeting(client, area)
        person = victim(41)
        incident = decision(area, person, dash_score=16)
        await triage.publish(incident)
        await eventually(lambda: cases_on(client, first))
        # the agency knows the force's nominal id, or only the names and date of birth
        referred = person if same_person_id else {**person, "person_id": None}
        body = referral_body(area, referred, criteria=["visible_high_risk", "potential_escalation"])
        answer = await refer(client, body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "accepted"
        referral_id = answer.json()["marac_referral_id"]

        [case] = await cases_on(client, first)
        assert case["incident_ids"] == [str(incident.incident_id)]
        assert case["criteria"] == ["visible_high_risk", "potential_escalation"]
        # 30 + 15 criteria, the highest DASH (16), 5 for the further source
        assert case["priority"] == 30 + 15 + 16 + 5
        [stored] = await referrals_of(app, case["case_id"])
        assert stored.marac_referral_id == referral_id
        assert stored.referring_agency == "health"
        assert stored.form["victim"]["equality"] == {
            "sex": "female",
            "ethnicity": "white",
            "disability": None,
            "lgbt": None,
        }
        assert await counts(app) == (1, 1, 2)


async def test_a_referral_for_a_new_victim_opens_a_case_on_the_earliest_meeting(
    app: Any, kafka_bootstrap: str
) -> None:
    area = new_area()
    async with running(app) as client:
        async with TopicReader(kafka_bootstrap, MARAC) as topic:
            too_soon = await meeting(client, area, 2)
            first = await meeting(client, area, 8)
            person = victim(42)
            body = referral_body(area, person, consent="not_given", consent_reason="Fear.")
            answer = await refer(client, body)
            assert answer.status_code == 202, answer.text
            referral_id = answer.json()["marac_referral_id"]

            def arrived() -> list[Any] | None:
                wanted = [r for r in topic.records if headers_of(r).get("ce_subject")]
                types = {headers_of(r)["ce_type"] for r in wanted}
                return wanted if MARAC_REFERRAL_RECEIVED in types and len(types) == 2 else None

            async def polled() -> list[Any] | None:
                await topic.poll()
                return arrived()

            records = await eventually(polled)
        assert await cases_on(client, too_soon) == []
        [case] = await cases_on(client, first)
        assert case["incident_ids"] == []
        assert case["dash_score"] == 15
        assert case["children_count"] == 1
        assert case["suspect"]["given_name"] == "Testperp"
        received = next(r for r in records if headers_of(r)["ce_type"] == MARAC_REFERRAL_RECEIVED)
        data = data_of(received)
        assert set(data) == {
            "marac_referral_id",
            "case_id",
            "area",
            "referring_agency",
            "criteria",
            "consent",
            "received_at",
            "repeat",
        }
        assert data["marac_referral_id"] == referral_id
        assert data["case_id"] == case["case_id"]
        assert (data["referring_agency"], data["consent"]) == ("health", "not_given")
        assert data["criteria"] == ["visible_high_risk"]
        listed = next(r for r in records if headers_of(r)["ce_type"] != MARAC_REFERRAL_RECEIVED)
        assert data_of(listed)["marac_referral_ids"] == [referral_id]
        # no name, date of birth, free text or equality on the referral's event
        text = received.value.decode()
        for secret in (
            person["given_name"],
            person["date_of_birth"],
            "Testperp",
            "Synthetic summary",
            "Fear.",
            "female",
        ):
            assert secret not in text


async def test_a_referral_is_logged_as_collected_and_combined_when_it_joins(
    app: Any, kafka_bootstrap: str
) -> None:
    area = new_area()
    async with running(app) as client, TopicReader(kafka_bootstrap, audit_topic("marac")) as log:
        person = victim(43)
        one = await refer(client, referral_body(area, person))
        two = await refer(
            client, referral_body(area, person, referring_agency="housing"), *refer_scope("housing")
        )
        assert one.status_code == two.status_code == 202
        ids = {one.json()["marac_referral_id"], two.json()["marac_referral_id"]}

        async def entries() -> list[dict[str, Any]] | None:
            await log.poll()
            found = [data_of(r) for r in log.records]
            mine = [e for e in found if ids & set(e["ids"])]
            return mine if len(mine) == 3 else None

        found = await eventually(entries)
    collected = [e for e in found if e["operation"] == "collected"]
    [combined] = [e for e in found if e["operation"] == "combined"]
    assert {e["ids"][0] for e in collected} == ids
    assert all(e["resource"] == "marac_referral" for e in collected)
    assert all(e["route"] == "/v1/marac-referrals" for e in found)
    assert combined["resource"] == "marac_case"
    assert two.json()["marac_referral_id"] in combined["ids"]
    assert len(collected[0]["subjects"]) == 2  # the person id's key and the names' key
    assert set(combined["subjects"]) == set(collected[0]["subjects"])


def _yes(count: int) -> dict[str, Any]:
    return {
        "checklist": "safelives-dash-ric-24",
        "answers": {f"q{i}": i <= count for i in range(1, 25)},
        "completed_by": "HV 77",
    }


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"dash": _yes(13)}, ["body", "dash", "answers"]),
        ({"dash": None}, ["body", "dash"]),
        ({"criteria": ["professional_judgement"]}, ["body", "professional_judgement_reason"]),
        (
            {"criteria": ["professional_judgement"], "professional_judgement_reason": "  "},
            ["body", "professional_judgement_reason"],
        ),
        ({"consent": "not_given"}, ["body", "consent_reason"]),
        ({"consent": "not_sought"}, ["body", "consent_reason"]),
        ({"consent": "maybe"}, ["body", "consent"]),
        ({"criteria": []}, ["body", "criteria"]),
        ({"criteria": ["visible_high_risk", "visible_high_risk"]}, ["body", "criteria"]),
        ({"criteria": ["serial"]}, ["body", "criteria", 0]),
        ({"perpetrators": [{"given_name": "P", "family_name": "Q"}] * 4}, ["body", "perpetrators"]),
        ({"summary": "x" * 4001}, ["body", "summary"]),
        ({"consent": "not_given", "consent_reason": "x" * 2001}, ["body", "consent_reason"]),
        ({"referrer": {"name": "Testnurse"}}, ["body", "referrer", "role"]),
        ({"referral_ref": "bad ref!"}, ["body", "referral_ref"]),
        ({"referring_agency": "police"}, ["body", "referring_agency"]),
        ({"unknown": 1}, ["body", "unknown"]),
        ({"victim": {"given_name": "A", "family_name": "B", "equality": {"sex": "x"}}}, None),
    ],
)
async def test_a_bad_form_is_refused_field_by_field_and_nothing_is_stored(
    app: Any, change: dict[str, Any], loc: list[Any] | None
) -> None:
    area = new_area()
    async with running(app) as client:
        before = await counts(app)
        answer = await refer(client, referral_body(area, victim(44)) | change)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        locs = [e["loc"] for e in answer.json()["errors"]]
        if loc is not None:
            assert loc in locs, locs
        else:
            assert any(e[:4] == ["body", "victim", "equality", "sex"] for e in locs), locs
        assert await counts(app) == before


async def test_a_reason_given_or_consent_given_is_enough(app: Any) -> None:
    area = new_area()
    async with running(app) as client:
        judgement = referral_body(
            area,
            victim(45),
            criteria=["professional_judgement"],
            dash=None,
            professional_judgement_reason="Escalating control over money.",
            consent="not_sought",
            consent_reason="Contact would alert the perpetrator.",
        )
        assert (await refer(client, judgement)).status_code == 202
        fourteen = referral_body(area, victim(46), dash=_yes(14))
        assert (await refer(client, fourteen)).status_code == 202


@pytest.mark.parametrize(
    ("scopes", "status"),
    [(refer_scope("housing"), 403), (READ, 403), (ADMIN, 403), ((), 401)],
)
async def test_an_agency_refers_only_as_itself(
    app: Any, scopes: tuple[str, ...], status: int
) -> None:
    async with running(app) as client:
        before = await counts(app)
        body = referral_body(new_area(), victim(47))
        headers = bearer(*scopes) if scopes else {}
        answer = await client.post("/v1/marac-referrals", json=body, headers=headers)
        assert answer.status_code == status, answer.text
        assert await counts(app) == before


async def test_the_same_referral_twice_is_one_and_another_form_is_a_conflict(
    app: Any, kafka_bootstrap: str
) -> None:
    area = new_area()
    async with running(app) as client, TopicReader(kafka_bootstrap, MARAC) as topic:
        body = referral_body(area, victim(48))
        first = await refer(client, body)
        again = await refer(client, body)
        assert (first.status_code, again.status_code) == (202, 200)
        assert again.json() == first.json()
        other = await refer(client, body | {"summary": "Another account."})
        assert other.status_code == 409
        assert other.headers["content-type"] == "application/problem+json"
        # the same reference from another agency is another referral
        housing = body | {"referring_agency": "housing"}
        assert (await refer(client, housing, *refer_scope("housing"))).status_code == 202
        assert (await counts(app))[:2] == (2, 1)
        referral_id = first.json()["marac_referral_id"]

        async def announced() -> list[Any] | None:
            await topic.poll()
            mine = [r for r in topic.records if headers_of(r)["ce_subject"] == referral_id]
            return mine or None

        await eventually(announced)
        marker = await refer(client, referral_body(area, victim(49)))
        marker_id = marker.json()["marac_referral_id"]

        async def after_marker() -> bool:
            await topic.poll()
            return any(headers_of(r)["ce_subject"] == marker_id for r in topic.records)

        await eventually(after_marker)
        mine = [r for r in topic.records if headers_of(r)["ce_subject"] == referral_id]
        assert len(mine) == 1


async def test_equality_changes_no_priority_and_never_reaches_the_bus(
    app: Any, kafka_bootstrap: str
) -> None:
    """Principle 8: counted only; never an input to a listing, never on a topic."""
    area = new_area()
    async with running(app) as client, TopicReader(kafka_bootstrap, MARAC) as topic:
        first = await meeting(client, area)
        plain = referral_body(area, victim(51))
        plain["victim"].pop("equality")
        marked = referral_body(area, victim(52))
        marked["victim"]["equality"] = {
            "sex": "male",
            "ethnicity": "black",
            "disability": True,
            "lgbt": True,
        }
        ids = []
        for body in (plain, marked):
            answer = await refer(client, body)
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["marac_referral_id"])

        async def both() -> list[Any] | None:
            await topic.poll()
            found = [r for r in topic.records if set(ids) & set(r.value.decode().split('"'))]
            return found if len(found) == 4 else None  # received and listed, each

        records = await eventually(both)
        cases = await cases_on(client, first)
    assert len(cases) == 2
    assert cases[0]["priority"] == cases[1]["priority"]
    assert {c["risk_level"] for c in cases} == {"high"}
    for record in records:
        assert "equality" not in record.value.decode()
        assert not {"black", "lgbt", "disability"} & set(record.value.decode().split('"'))


async def test_a_referral_is_read_back_whole_by_a_reader_only(app: Any) -> None:
    area = new_area()
    async with running(app) as client:
        body = referral_body(area, victim(53), consent="not_sought", consent_reason="Unsafe.")
        referral_id = (await refer(client, body)).json()["marac_referral_id"]
        answer = await client.get(f"/v1/marac-referrals/{referral_id}", headers=bearer(*READ))
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert found["marac_referral_id"] == referral_id
        assert found["case_id"]
        assert found["received_at"]
        assert found["referral_ref"] == body["referral_ref"]
        assert found["victim"]["given_name"] == body["victim"]["given_name"]
        assert found["victim"]["equality"] is None  # counted only, never shown
        assert found["dash"]["answers"] == body["dash"]["answers"]
        assert (found["consent"], found["consent_reason"]) == ("not_sought", "Unsafe.")
        assert found["summary"] == body["summary"]
        unknown = "00000000-0000-4000-8000-000000000000"
        missing = await client.get(f"/v1/marac-referrals/{unknown}", headers=bearer(*READ))
        assert missing.status_code == 404
        referrer = await client.get(f"/v1/marac-referrals/{referral_id}", headers=bearer(*HEALTH))
        assert referrer.status_code == 403
