"""Perpetrators through the real broker: decisions in, cohort events out, exactly once;
the API and CSV agree with each other and with the events; no victim is identified
anywhere; every read is audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

import perpetrators.app
from mash_tools.testing import bearer, eventually, running
from shared.schemas.v1 import AuditEntry
from shared.topics import (
    PERPETRATOR_PRIORITISED,
    PERPETRATOR_RELEASED,
    PERPETRATORS,
    audit_topic,
)
from tests.integration.perpetrators.kit import (
    READ,
    Clock,
    DecisionPublisher,
    Tail,
    child,
    decision,
    drained,
    new_area,
    outbox_events,
    perpetrator_settings,
    person,
)

pytestmark = pytest.mark.kafka


def personal_data(*people: dict[str, Any]) -> list[str]:
    """Every value of these people's personal data, whole."""
    values = []
    for p in people:
        values += [p["person_id"], p["given_name"], p["family_name"], p["date_of_birth"]]
        values += [*p["address"]["lines"], p["address"]["postcode"]]
        values += [p["contact"]["phone"], p["contact"]["email"]]
    return values


async def listed(client: httpx.AsyncClient, area: str, cohort: str = "all") -> list[Any]:
    answer = await client.get(
        "/v1/perpetrators", params={"area": area, "cohort": cohort}, headers=bearer(*READ)
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json())


async def test_a_third_incident_with_a_child_present_prioritises_once_and_no_victim_shows(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    clock = Clock()
    app = perpetrators.app.create_app(
        perpetrator_settings(kafka_bootstrap, database_url, group), clock=clock
    )
    area = new_area()
    suspect = person("suspect", 0)
    first_victim, second_victim = person("victim", 11), person("victim", 12)
    kids = (child(1, present=True), child(2, present=False))
    start = clock.now
    async with (
        running(app) as client,
        Tail(kafka_bootstrap, PERPETRATORS) as cohort_topic,
        Tail(kafka_bootstrap, audit_topic("perpetrators")) as audit_log,
        DecisionPublisher(kafka_bootstrap) as triage,
    ):
        one = decision(area, suspect, first_victim, reported_at=start - timedelta(days=40))
        two = decision(area, suspect, second_victim, reported_at=start - timedelta(days=20))
        await triage.publish(one)
        await triage.publish(two)

        async def scored(incidents: int) -> list[Any] | None:
            found = await listed(client, area)
            return found if found and found[0]["incidents_24m"] == incidents else None

        [before] = await eventually(lambda: scored(2))
        # serial (two victims) but no child present, and 5 x (2 + 2 + 2) = 30: not priority
        assert before["priority"] is False
        assert before["score"] == 30
        assert await listed(client, area, "priority") == []

        third = decision(
            area, suspect, first_victim, reported_at=start - timedelta(days=1), children=kids
        )
        delivered = await triage.publish(third)
        [after] = await eventually(lambda: scored(3))
        assert after["priority"] is True
        assert after["children_involved"] is True
        assert after["victims_count"] == 2
        assert after["components"] == {"recency": 5, "frequency": 3, "gravity": 4, "victims": 2}
        assert after["score"] == 5 * (3 + 4 + 2) == 45  # in through the child-present route
        assert after["person"] == {
            "given_name": suspect["given_name"],
            "family_name": suspect["family_name"],
            "date_of_birth": suspect["date_of_birth"],
        }
        assert after["policy_version"] == "rfg-default-1"
        assert after["policy_owner"]
        perpetrator_id = after["perpetrator_id"]
        entry = await client.get(f"/v1/perpetrators/{perpetrator_id}", headers=bearer(*READ))
        assert entry.status_code == 200

        # the same message again, then a re-grade of that incident: no new incident, no
        # second event; the re-grade raises that incident's gravity
        await triage.publish(third, delivered)
        regrade = decision(
            area,
            suspect,
            first_victim,
            reported_at=third.incident.reported_at,
            children=kids,
            incident_id=third.incident_id,
            risk_level="high",
            risk_basis="regrade",
            decided_at=third.decided_at + timedelta(hours=1),
        )
        await triage.publish(regrade)

        async def regraded() -> dict[str, Any] | None:
            [found] = await listed(client, area)
            return dict(found) if found["components"]["gravity"] == 6 else None

        latest = await eventually(regraded)
        assert latest["incidents_24m"] == 3
        assert latest["score"] == 5 * (3 + 6 + 2)

        detail = await client.get(f"/v1/perpetrators/{perpetrator_id}", headers=bearer(*READ))
        assert detail.status_code == 200
        record = detail.json()
        assert record["incident_ids"] == [str(d.incident_id) for d in (one, two, third)]
        # the first two may be decided in either order (two victims, two partitions)
        assert [h["score"] for h in record["history"]][1:] == [30, 45, 55]

        await drained(app)
        await cohort_topic.settle()
        mine = [(h, d) for h, d in cohort_topic.events() if d["perpetrator_id"] == perpetrator_id]
        assert [h["ce_type"] for h, _ in mine] == [PERPETRATOR_PRIORITISED]
        headers, data = mine[0]
        assert headers["ce_subject"] == str(third.incident_id)
        assert headers["ce_source"] == "/mash/perpetrators"
        [message] = [r for r in cohort_topic.records if json.loads(r.value) == data]
        assert message.key.decode() == perpetrator_id
        # the event's data is the perpetrator as GET /v1/perpetrators/{id} showed them then
        assert data == entry.json()

        # the API and the CSV agree, row for row
        answer = await client.get(
            "/v1/perpetrators.csv", params={"area": area, "cohort": "all"}, headers=bearer(*READ)
        )
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        api_rows = await listed(client, area)
        assert [r["perpetrator_id"] for r in rows] == [p["perpetrator_id"] for p in api_rows]
        for row, view in zip(rows, api_rows, strict=True):
            assert int(row["score"]) == view["score"]
            assert row["priority"] == str(view["priority"]).lower()
            for part in ("recency", "frequency", "gravity", "victims"):
                assert int(row[part]) == view["components"][part]
            for name in ("given_name", "family_name", "date_of_birth"):
                assert row[name] == view["person"][name]
            for name in ("incidents_24m", "victims_count"):
                assert int(row[name]) == view[name]
            assert row["children_involved"] == str(view["children_involved"]).lower()
            assert (row["policy_version"], row["policy_owner"]) == (
                view["policy_version"],
                view["policy_owner"],
            )
            assert row["last_incident_at"] == view["last_incident_at"]
            assert row["scored_at"] == view["scored_at"]

        # nothing anywhere names a victim or a child, or says where or how to reach them
        await drained(app)
        await audit_log.settle()
        await cohort_topic.settle()
        everything = [entry.text, detail.text, answer.text, json.dumps(api_rows)]
        for r in cohort_topic.records + audit_log.records:
            everything += [r.value.decode(), r.key.decode(), str(r.headers)]
        for value in personal_data(first_victim, second_victim, *kids):
            assert not any(value in text for text in everything), value

        # every read above was audited, naming the reader, route and ids, never the data
        reads = [
            d for _, d in audit_log.events("mash.audit.consulted") if d["service"] == "perpetrators"
        ]
        routes = {d["route"] for d in reads}
        assert routes == {
            "/v1/perpetrators",
            "/v1/perpetrators.csv",
            "/v1/perpetrators/{perpetrator_id}",
        }
        for read in reads:
            assert set(read) == set(AuditEntry.model_fields)  # contract section 12
            assert (read["operation"], read["via"]) == ("consulted", "api")
            assert read["sub"] == "tester"
            assert read["status"] == 200
            assert read["resource"] == "perpetrator"
        assert [d["ids"] for d in reads if d["route"].endswith("{perpetrator_id}")] == [
            [perpetrator_id],
            [perpetrator_id],
        ]
        assert all(
            r["ids"] in ([], [perpetrator_id]) for r in reads if r["route"] == "/v1/perpetrators"
        )


async def test_a_quiet_year_releases_a_perpetrator_once(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    clock = Clock()
    app = perpetrators.app.create_app(
        perpetrator_settings(kafka_bootstrap, database_url, group), clock=clock
    )
    area = new_area()
    suspect, victim = person("suspect", 0), person("victim", 21)
    async with (
        running(app) as client,
        Tail(kafka_bootstrap, PERPETRATORS) as cohort_topic,
        DecisionPublisher(kafka_bootstrap) as triage,
    ):
        for days_ago in (3, 2, 1):
            reported = clock.now - timedelta(days=days_ago)
            await triage.publish(
                decision(area, suspect, victim, reported_at=reported, risk_level="high")
            )

        async def prioritised() -> list[Any]:
            return await listed(client, area, "priority")

        [found] = await eventually(prioritised)
        assert found["score"] == 5 * (3 + 9) == 60
        perpetrator_id = found["perpetrator_id"]

        rescore = app.state.rescore
        platform = app.state.platform
        clock.advance(days=100)  # recency 3: 36, out of the cohort
        assert await rescore.run_once(platform) == 1
        assert await rescore.run_once(platform) == 0  # the same day again changes nothing
        clock.advance(days=266)  # a quiet year: recency 1
        assert await rescore.run_once(platform) == 0
        [quiet] = await listed(client, area)
        assert (quiet["score"], quiet["priority"]) == (12, False)
        assert quiet["components"]["recency"] == 1
        assert await listed(client, area, "priority") == []

        await drained(app)
        await cohort_topic.settle()
        mine = [(h, d) for h, d in cohort_topic.events() if d["perpetrator_id"] == perpetrator_id]
        assert [h["ce_type"] for h, _ in mine] == [PERPETRATOR_PRIORITISED, PERPETRATOR_RELEASED]
        released = mine[1][1]
        assert released["priority"] is False
        assert released["score"] == 36
        assert [h["score"] for h in released["history"]] == [20, 40, 60, 36]

        committed = await outbox_events(app, PERPETRATORS)
        assert [e["headers"]["ce_type"] for e in committed] == [
            PERPETRATOR_PRIORITISED,
            PERPETRATOR_RELEASED,
        ]
