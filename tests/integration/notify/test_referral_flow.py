"""Decisions on Kafka become referrals: in the ledger, in GET, on each agency's topic, once.

Runs on SQLite and on PostgreSQL (`database_url`).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from mash_tools.testing import (
    TEST_PSEUDONYM_KEY,
    TopicReader,
    data_of,
    eventually,
    headers_of,
    running,
)
from notify import store
from shared.identity import victim_key
from shared.schemas import TriageDecided
from shared.topics import referrals_topic
from tests.integration.notify.kit import notify_app, publish, referrals_of
from tests.unit.notify import builders

pytestmark = pytest.mark.kafka

CSC, SCHOOL_0, SCHOOL_1, IDVA, SAFEGUARDING, VICTIM_SUPPORT = builders.ALL_REFERRALS


def about(incident_id: str) -> Any:
    return lambda record: headers_of(record).get("ce_subject") == incident_id


async def test_a_decision_becomes_one_minimised_referral_per_agency_and_subject(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    data = builders.decision_data(safe_to_contact=False)
    incident_id = data["incident_id"]
    app = notify_app(kafka_bootstrap, database_url, group)
    async with (
        running(app) as client,
        TopicReader(kafka_bootstrap, referrals_topic("school")) as school_topic,
        TopicReader(kafka_bootstrap, referrals_topic("safeguarding-team")) as team_topic,
    ):
        await publish(kafka_bootstrap, data)

        async def schools() -> list[dict[str, Any]] | None:
            found = await referrals_of(client, "school", incident_id)
            return found if len(found) == 2 else None

        school = await eventually(schools)
        assert sorted(r["subject"] for r in school) == ["child:0", "child:1"]
        for record in school:
            child = int(record["subject"].split(":")[1])
            assert record["reason"] == "operation_encompass"
            # Operation Encompass: the incident id, its date and time, the one child
            assert set(record["data"]) == {
                "incident_id",
                "reported_at",
                "incident_date",
                "children",
                "safe_to_contact",
            }
            assert "risk_level" not in record  # absent, not null
            assert record["due_by"].endswith("T12:00:00Z")  # noon on the school day (GMT)
            (seen,) = record["data"]["children"]
            assert seen["given_name"] == data["incident"]["children"][child]["given_name"]
            assert record["delivery"]["deliver_after"] == "2026-11-19T07:00:00Z"

        (team,) = await referrals_of(client, "safeguarding-team", incident_id)
        assert team["review_due_at"] == "2026-11-19T21:20:00Z"
        assert team["data"]["notes"] == builders.NOTES
        assert team["data"]["victim"]["contact"]["phone"] == builders.VICTIM_PHONE
        (support,) = await referrals_of(client, "victim-support", incident_id)
        assert "contact" not in support["data"]["victim"]  # not safe to contact
        assert support["data"]["safe_to_contact"] is False
        for agency in ("childrens-social-care", "idva"):
            (record,) = await referrals_of(client, agency, incident_id)
            assert "notes" not in record["data"]
            assert record["acknowledged_at"] is None
            assert record["delivery"]["channel"] == "topic"  # no webhook subscribed

            async def on_its_topic(agency: str = agency) -> bool:
                (now,) = await referrals_of(client, agency, incident_id)
                return bool(
                    now["delivery"] == {"status": "delivered", "attempts": 0, "channel": "topic"}
                )

            await eventually(on_its_topic)

        decided = TriageDecided.model_validate(data)
        key = victim_key(TEST_PSEUDONYM_KEY, decided.incident.victim, incident_id).encode()

        async def both_on_topic() -> list[Any] | None:
            await school_topic.poll()
            found = [r for r in school_topic.records if about(incident_id)(r)]
            return found if len(found) == 2 else None

        events = await eventually(both_on_topic)
        ids = {headers_of(r)["ce_id"] for r in events}
        on_topic = events[0]
        assert ids == {r["referral_id"] for r in school}
        assert on_topic.key == key
        assert headers_of(on_topic)["ce_type"] == "mash.referral.created"
        assert builders.VICTIM_PHONE not in on_topic.value.decode()
        team_event = await team_topic.wait_for(about(incident_id))
        assert data_of(team_event)["data"] == team["data"]
        assert headers_of(team_event)["ce_id"] == team["referral_id"]


async def test_replays_and_later_decisions_add_no_duplicate(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    first = builders.decision_data(referrals=[CSC, IDVA], risk_level="high")
    incident_id = first["incident_id"]
    app = notify_app(kafka_bootstrap, database_url, group)
    async with (
        running(app) as client,
        TopicReader(kafka_bootstrap, referrals_topic("idva")) as idva_topic,
        TopicReader(kafka_bootstrap, referrals_topic("victim-support")) as support_topic,
    ):
        event_id = await publish(kafka_bootstrap, first)
        await eventually(lambda: referrals_of(client, "idva", incident_id))
        await publish(kafka_bootstrap, first, event_id=event_id)  # the same event again
        await publish(kafka_bootstrap, {**first, "decision_id": str(uuid.uuid4())})  # new id
        # a later decision (a re-grade down): adds what it newly calls for, withdraws nothing
        later = {
            **first,
            "decision_id": str(uuid.uuid4()),
            "risk_level": "standard",
            "referrals": [CSC, SCHOOL_1, VICTIM_SUPPORT],
        }
        await publish(kafka_bootstrap, later)
        await support_topic.wait_for(about(incident_id))

        counts = {
            agency: len(await referrals_of(client, agency, incident_id))
            for agency in ("childrens-social-care", "idva", "school", "victim-support")
        }
        assert counts == {"childrens-social-care": 1, "idva": 1, "school": 1, "victim-support": 1}
        assert await referrals_of(client, "safeguarding-team", incident_id) == []
        (idva,) = await referrals_of(client, "idva", incident_id)
        assert idva["risk_level"] == "high"  # as it was when it was made

        async with app.state.platform.sessions() as session:
            received = await session.scalar(
                select(func.count())
                .select_from(store.messages.inbox)
                .where(store.messages.inbox.c.subject == incident_id)
            )
            ledger = await session.scalar(
                select(func.count())
                .select_from(store.referrals)
                .where(store.referrals.c.incident_id == incident_id)
            )
        assert received == 3  # the same ce_id twice was processed once
        assert ledger == 4
        await idva_topic.wait_for(about(incident_id))
        await idva_topic.poll()
        assert len([r for r in idva_topic.records if about(incident_id)(r)]) == 1
