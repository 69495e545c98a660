"""Contract section 3 against the real broker and both databases."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime

import pytest

from mash_tools.testing import TopicReader, bearer, data_of, eventually, headers_of
from shared.topics import EQUALITY_GIVEN, INCIDENTS, INTAKE_EQUALITY
from tests.builders import dash_body, incident_body
from tests.integration.intake.kit import Intake

pytestmark = pytest.mark.kafka
WRITE = bearer("incidents:write")
READ = bearer("incidents:read")


def unique_ref() -> str:
    return f"HC-{uuid.uuid4().hex[:12]}"


async def test_an_accepted_incident_is_published_with_cloudevents_headers_and_a_blind_key(
    intake_service: Intake, kafka_bootstrap: str
) -> None:
    body = incident_body(unique_ref())
    async with TopicReader(kafka_bootstrap, INCIDENTS) as topic:
        answer = await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
        assert answer.status_code == 202
        accepted = answer.json()
        assert accepted["status"] == "accepted"
        assert accepted["control_room_ref"] == body["control_room_ref"]
        incident_id = accepted["incident_id"]
        record = await topic.wait_for(lambda r: headers_of(r).get("ce_subject") == incident_id)

    h = headers_of(record)
    assert h["ce_specversion"] == "1.0"
    assert h["ce_type"] == "mash.incident.reported"
    assert h["ce_source"] == "/mash/intake"
    assert uuid.UUID(h["ce_id"])
    assert datetime.fromisoformat(h["ce_time"].replace("Z", "+00:00"))
    assert h["content-type"] == "application/json"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", h["traceparent"])
    key = record.key.decode()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    for personal in ("N100001", "Alex", "Testperson", "1990-04-01"):
        assert personal not in key
        assert personal not in str(h)
    data = data_of(record)
    assert data["incident_id"] == incident_id
    assert data["victim"]["given_name"] == "Alex"
    assert data["control_room_ref"] == body["control_room_ref"]

    status = await eventually(lambda: _published(intake_service, incident_id))
    assert status["force"] == "hampshire"
    assert status["area"] == "southampton"
    assert status["received_at"]


async def _published(service: Intake, incident_id: str) -> dict[str, str] | None:
    answer = await service.client.get(f"/v1/incidents/{incident_id}", headers=READ)
    assert answer.status_code == 200
    return answer.json() if answer.json()["status"] == "published" else None


async def test_the_same_report_again_answers_200_with_the_same_id_and_publishes_nothing(
    intake_service: Intake,
) -> None:
    body = incident_body(unique_ref())
    first = await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
    again = await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["incident_id"] == first.json()["incident_id"]
    assert await intake_service.count("incidents") == 1
    assert await intake_service.count("outbox") == 1
    assert await intake_service.count("log") == 1  # collected once


async def test_a_reused_reference_with_a_different_body_is_a_conflict(
    intake_service: Intake,
) -> None:
    body = incident_body(unique_ref())
    await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
    changed = {**body, "notes": "a different incident"}
    answer = await intake_service.client.post("/v1/incidents", json=changed, headers=WRITE)
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert await intake_service.count("outbox") == 1


async def test_the_same_reference_in_another_force_is_another_incident(
    intake_service: Intake,
) -> None:
    ref = unique_ref()
    a = await intake_service.client.post("/v1/incidents", json=incident_body(ref), headers=WRITE)
    b = await intake_service.client.post(
        "/v1/incidents", json=incident_body(ref, force="thames-valley"), headers=WRITE
    )
    assert (a.status_code, b.status_code) == (202, 202)
    assert a.json()["incident_id"] != b.json()["incident_id"]


async def test_twenty_identical_posts_at_once_make_one_incident_and_one_event(
    intake_service: Intake,
) -> None:
    body = incident_body(unique_ref())
    answers = await asyncio.gather(
        *(intake_service.client.post("/v1/incidents", json=body, headers=WRITE) for _ in range(20))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 19 + [202]
    assert len({a.json()["incident_id"] for a in answers}) == 1
    assert await intake_service.count("incidents") == 1
    assert await intake_service.count("outbox") == 1
    assert await intake_service.count("log") == 1  # collected once


async def test_invalid_reports_answer_422_naming_every_field_and_change_nothing(
    intake_service: Intake,
) -> None:
    body = incident_body(unique_ref(), relationship="neighbour", reported_at="2999-01-01T00:00:00Z")
    body["victim"]["date_of_birth"] = "1990-13-01"
    answer = await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
    assert answer.status_code == 422
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail", "errors"} <= problem.keys()
    locs = [e["loc"] for e in problem["errors"]]
    assert ["body", "relationship"] in locs
    assert ["body", "victim", "date_of_birth"] in locs
    assert all("msg" in e for e in problem["errors"])

    future = incident_body(unique_ref(), reported_at="2999-01-01T00:00:00Z")
    answer = await intake_service.client.post("/v1/incidents", json=future, headers=WRITE)
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["errors"]] == [["body", "reported_at"]]
    assert await intake_service.count("incidents") == 0
    assert await intake_service.count("outbox") == 0


async def test_the_victims_equality_monitoring_goes_to_marac_alone_never_with_the_incident(
    intake_service: Intake, kafka_bootstrap: str
) -> None:
    """Contract 3: optional, on the victim only. Issue 21: the incident event carries no
    equality (triage, notify and perpetrators never receive it); the block goes once, in
    the same transaction, on `mash.intake.equality.v1` (marac's alone), with the incident's
    id, area and time and nothing else of the incident."""
    body = incident_body(unique_ref())
    equality = {"sex": "female", "ethnicity": "asian", "disability": True, "lgbt": None}
    body["victim"]["equality"] = equality
    async with (
        TopicReader(kafka_bootstrap, INCIDENTS) as incidents,
        TopicReader(kafka_bootstrap, INTAKE_EQUALITY) as given,
    ):
        answer = await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
        assert answer.status_code == 202, answer.text
        incident_id = answer.json()["incident_id"]
        incident = await incidents.wait_for(
            lambda r: headers_of(r).get("ce_subject") == incident_id
        )
        record = await given.wait_for(lambda r: headers_of(r).get("ce_subject") == incident_id)
    victim = data_of(incident)["victim"]
    assert "equality" not in victim
    assert (victim["given_name"], victim["person_id"]) == ("Alex", "N100001")
    for word in ("equality", "ethnicity", "asian", "lgbt", "disability"):
        assert word not in incident.value.decode()
    h = headers_of(record)
    assert (h["ce_type"], h["ce_source"]) == (EQUALITY_GIVEN, "/mash/intake")
    assert h["ce_id"] != headers_of(incident)["ce_id"]
    assert record.key == incident.key  # the victim's blind key, as every event of theirs
    assert data_of(record) == {
        "incident_id": incident_id,
        "area": body["area"],
        "reported_at": body["reported_at"],
        "equality": equality,
    }
    for personal in ("Alex", "Testperson", "N100001", "1990-04-01", body["control_room_ref"]):
        assert personal not in record.value.decode()
    assert await intake_service.count("equality") == 1
    # the same report again publishes nothing new, the block included
    again = await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
    assert (again.status_code, again.json()["incident_id"]) == (200, incident_id)
    assert (await intake_service.count("outbox"), await intake_service.count("equality")) == (1, 1)
    # the same report with other equality values is another body: a conflict
    other = {**body, "victim": {**body["victim"], "equality": {"sex": "male"}}}
    conflict = await intake_service.client.post("/v1/incidents", json=other, headers=WRITE)
    assert conflict.status_code == 409
    assert (await intake_service.count("outbox"), await intake_service.count("equality")) == (1, 1)
    # intake's own answer is the contract's status, without the block
    status = await intake_service.client.get(f"/v1/incidents/{incident_id}", headers=READ)
    assert "equality" not in status.text


async def test_an_incident_without_equality_monitoring_gives_marac_nothing(
    intake_service: Intake,
) -> None:
    first = await intake_service.client.post(
        "/v1/incidents", json=incident_body(unique_ref()), headers=WRITE
    )
    assert first.status_code == 202
    dash = await intake_service.client.post(
        f"/v1/incidents/{first.json()['incident_id']}/risk-assessments",
        json=dash_body(),
        headers=WRITE,
    )
    assert dash.status_code == 202
    assert await intake_service.count("outbox") == 2
    assert await intake_service.count("equality") == 0


@pytest.mark.parametrize(
    ("where", "equality", "loc"),
    [
        ("victim", {"sex": "woman"}, ["sex"]),
        ("victim", {"ethnicity": "white_british"}, ["ethnicity"]),
        ("victim", {"disability": "yes"}, ["disability"]),
        ("victim", {"lgbt": 1}, ["lgbt"]),
        ("victim", {"religion": "none"}, ["religion"]),
        ("victim", "female", []),
        ("suspect", {"sex": "male"}, []),
    ],
)
async def test_a_bad_equality_block_is_422_field_by_field_and_changes_nothing(
    intake_service: Intake, where: str, equality: object, loc: list[str]
) -> None:
    body = incident_body(unique_ref())
    body[where]["equality"] = equality
    answer = await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    locs = [e["loc"] for e in answer.json()["errors"]]
    assert ["body", where, "equality", *loc] in locs, locs
    assert await intake_service.count("incidents") == 0
    assert await intake_service.count("outbox") == 0


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{not json", 422), (b"[]", 422), (b"", 422), (b"x" * (1024 * 1024 + 1), 413)],
)
async def test_malformed_and_oversized_bodies_are_refused(
    intake_service: Intake, content: bytes, status: int
) -> None:
    answer = await intake_service.client.post(
        "/v1/incidents",
        content=content,
        headers={**WRITE, "content-type": "application/json"},
    )
    assert answer.status_code == status
    assert answer.json()["status"] == status
    assert await intake_service.count("outbox") == 0


async def test_a_later_dash_is_published_after_the_incident_on_the_same_key(
    intake_service: Intake, kafka_bootstrap: str
) -> None:
    async with TopicReader(kafka_bootstrap, INCIDENTS) as topic:
        posted = await intake_service.client.post(
            "/v1/incidents", json=incident_body(unique_ref()), headers=WRITE
        )
        incident_id = posted.json()["incident_id"]
        answer = await intake_service.client.post(
            f"/v1/incidents/{incident_id}/risk-assessments",
            json=dash_body(yes=15, judgement="high"),
            headers=WRITE,
        )
        assert answer.status_code == 202
        assert answer.json()["incident_id"] == incident_id
        dash = await topic.wait_for(
            lambda r: (
                headers_of(r).get("ce_type") == "mash.risk_assessment.submitted"
                and headers_of(r)["ce_subject"] == incident_id
            )
        )
        report = await topic.wait_for(
            lambda r: (
                headers_of(r).get("ce_subject") == incident_id
                and headers_of(r)["ce_type"] == "mash.incident.reported"
            )
        )
    assert dash.key == report.key
    assert (dash.partition, dash.offset > report.offset) == (report.partition, True)
    data = data_of(dash)
    assert data["incident_id"] == incident_id
    assert data["professional_judgement"] == "high"
    assert sum(data["answers"].values()) == 15


async def test_a_dash_for_an_unknown_incident_is_404(intake_service: Intake) -> None:
    answer = await intake_service.client.post(
        f"/v1/incidents/{uuid.uuid4()}/risk-assessments", json=dash_body(3), headers=WRITE
    )
    assert answer.status_code == 404
    assert await intake_service.count("risk_assessments") == 0


async def test_an_unknown_incident_is_404_and_a_bad_id_422(intake_service: Intake) -> None:
    assert (
        await intake_service.client.get(f"/v1/incidents/{uuid.uuid4()}", headers=READ)
    ).status_code == 404
    assert (
        await intake_service.client.get("/v1/incidents/not-a-uuid", headers=READ)
    ).status_code == 422


async def test_reading_needs_incidents_read_and_writing_incidents_write(
    intake_service: Intake,
) -> None:
    body = incident_body(unique_ref())
    assert (
        await intake_service.client.post("/v1/incidents", json=body, headers=READ)
    ).status_code == 403
    posted = await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
    assert (
        await intake_service.client.get(
            f"/v1/incidents/{posted.json()['incident_id']}", headers=WRITE
        )
    ).status_code == 403


async def test_the_openapi_document_gives_every_report_field_a_description_and_example(
    intake_service: Intake,
) -> None:
    spec = (await intake_service.client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    names = (
        "IncidentReport",
        "Person",
        "Victim",
        "Equality",
        "Child",
        "Dash",
        "Address",
        "Contact",
    )
    for name in names:
        for field, prop in schemas[name]["properties"].items():
            assert "description" in prop, (name, field)
            assert "examples" in prop or "example" in prop, (name, field)
    assert (await intake_service.client.get("/docs")).status_code == 200
