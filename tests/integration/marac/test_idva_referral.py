"""MARAC and IDVA together (domain.md): an agency's MARAC referral, posted to marac, becomes
one referral to the IDVA service at notify, on the real broker: marac publishes it on its
internal topic in the referral's transaction, notify makes the IDVA record from it,
minimised by IDVA's row, with IDVA's clock; never twice, and none for IDVA's own referral.

Notify runs on SQLite and on PostgreSQL (`database_url`); marac on a SQLite file of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

import marac.app
from mash_tools.testing import (
    TopicReader,
    bearer,
    data_of,
    eventually,
    headers_of,
    running,
)
from shared.envelope import CloudEvent
from shared.topics import MARAC_IDVA_REFERRALS, MARAC_REFERRAL_RECEIVED, referrals_topic
from tests.integration.kit import logged, produce
from tests.integration.marac.kit import marac_settings, new_area, refer_scope, referral_body, victim
from tests.integration.notify.kit import notify_app, referrals_of

pytestmark = pytest.mark.kafka

IDVA_FIELDS = {
    # IDVA's row of the sharing table, as a MARAC referral has it (notify's RENDERINGS):
    # the referral in place of the incident, who referred it and when; no relationship,
    # abuse types or flags (the form has none), never notes or free text
    "marac_referral_id",
    "referring_agency",
    "received_at",
    "area",
    "risk_level",
    "victim",
    "suspect",
    "children_count",
    "children_ages",
    "dash_score",
    "dash_answers",
    "marac_criteria",
    "safe_to_contact",
}
VICTIM_FIELDS = {"given_name", "family_name", "date_of_birth", "address", "contact"}


@dataclass
class Pair:
    marac: FastAPI
    notify: FastAPI
    coordinators: httpx.AsyncClient
    idva: httpx.AsyncClient


@pytest.fixture
async def pair(
    kafka_bootstrap: str, database_url: str, group: str, tmp_path: Path
) -> AsyncIterator[Pair]:
    marac_app = marac.app.create_app(
        marac_settings(kafka_bootstrap, f"sqlite+aiosqlite:///{tmp_path / 'marac.db'}", group)
    )
    notify = notify_app(kafka_bootstrap, database_url, group)
    async with running(notify) as idva, running(marac_app) as coordinators:
        yield Pair(marac_app, notify, coordinators, idva)


def rich_body(area: str, **overrides: Any) -> dict[str, Any]:
    """A health referral with everything a form may hold, equality monitoring included."""
    person = victim(
        61,
        address={"lines": ["7 Hiddenway Street"], "postcode": "SO15 2AB"},
        contact={"phone": "07700 900661", "email": "hidden@example.org", "safe_to_contact": True},
    )
    body = referral_body(
        area,
        person,
        referrer={"name": "Testnurse Referrer", "role": "Health visitor", "phone": "0238 000"},
        children=[
            {"given_name": "Testchild", "family_name": "Synthetic", "date_of_birth": "2016-01-02"}
        ],
        consent="not_given",
        consent_reason="Perpetrator monitors her phone.",
        victim_fears="She fears he will take the children.",
        safe_contact="Only at the surgery.",
    )
    body["victim"]["equality"] = {
        "sex": "female",
        "ethnicity": "black",
        "disability": True,
        "lgbt": True,
    }
    body.update(overrides)
    return body


async def refer(pair: Pair, body: dict[str, Any]) -> httpx.Response:
    agency = body["referring_agency"]
    return await pair.coordinators.post(
        "/v1/marac-referrals", json=body, headers=bearer(*refer_scope(agency))
    )


async def one_idva_referral(pair: Pair, marac_referral_id: str) -> dict[str, Any]:
    async def made() -> list[dict[str, Any]]:
        return await referrals_of(pair.idva, "idva", marac_referral_id)

    [record] = await eventually(made)
    found: dict[str, Any] = record
    return found


async def test_a_health_referral_is_one_idva_referral_with_idvas_fields_only(
    pair: Pair, kafka_bootstrap: str
) -> None:
    area = new_area()
    body = rich_body(area)
    async with TopicReader(kafka_bootstrap, referrals_topic("idva")) as idva_topic:
        answer = await refer(pair, body)
        assert answer.status_code == 202, answer.text
        referral_id = answer.json()["marac_referral_id"]
        record = await one_idva_referral(pair, referral_id)
        on_topic = await idva_topic.wait_for(
            lambda r: headers_of(r).get("ce_subject") == referral_id
        )

    assert (record["agency"], record["reason"], record["subject"]) == (
        "idva",
        "marac_referral",
        "victim",
    )
    assert record["incident_id"] == referral_id  # the referral stands where an incident would
    assert record["risk_level"] == "high"
    created = datetime.fromisoformat(record["created_at"])
    assert datetime.fromisoformat(record["due_by"]) - created == timedelta(hours=24)
    data = record["data"]
    assert set(data) == IDVA_FIELDS
    assert set(data["victim"]) == VICTIM_FIELDS
    person = body["victim"]
    assert data["victim"]["given_name"] == person["given_name"]
    assert data["victim"]["contact"] == {"phone": "07700 900661", "email": "hidden@example.org"}
    assert data["suspect"]["given_name"] == "Testperp"
    assert (data["children_count"], data["dash_score"]) == (1, 15)
    assert data["marac_criteria"] == ["visible_high_risk"]
    assert (data["referring_agency"], data["marac_referral_id"]) == ("health", referral_id)
    assert data_of(on_topic)["data"] == data
    assert headers_of(on_topic)["ce_id"] == record["referral_id"]

    # what IDVA's row does not grant, and equality monitoring, are nowhere in the record
    text = json.dumps(record) + on_topic.value.decode()
    for withheld in (
        "equality",
        "black",
        "lgbt",
        "disability",
        "Testnurse",
        "0238 000",
        "Perpetrator monitors",
        "take the children",
        "Only at the surgery",
        "Synthetic summary",
        "2016-01-02",
        "consent",
        person["person_id"],
    ):
        assert withheld not in text, withheld

    entries = await logged(pair.notify)
    disclosed = entries.about("disclosed", record["referral_id"])
    assert (disclosed["recipient"], disclosed["route"]) == ("idva", referrals_topic("idva"))
    assert referral_id in disclosed["ids"]
    entries.assert_nothing_personal_of({k: v for k, v in person.items() if k != "equality"})


async def internal_events(pair: Pair, referral_id: str) -> list[Any]:
    """Marac's outbox rows for the internal topic about one referral (published or not)."""
    outbox = pair.marac.state.platform.tables.outbox
    async with pair.marac.state.platform.sessions() as session:
        stmt = select(outbox).where(outbox.c.topic == MARAC_IDVA_REFERRALS)
        rows = (await session.execute(stmt)).all()
    return [r for r in rows if dict(r.headers).get("ce_subject") == referral_id]


async def test_the_same_referral_twice_redelivered_and_after_a_restart_is_one_idva_referral(
    kafka_bootstrap: str, database_url: str, group: str, tmp_path: Path
) -> None:
    marac_app = marac.app.create_app(
        marac_settings(kafka_bootstrap, f"sqlite+aiosqlite:///{tmp_path / 'marac.db'}", group)
    )
    area = new_area()
    body = rich_body(area)
    async with running(marac_app) as coordinators:
        idva_app = notify_app(kafka_bootstrap, database_url, group)
        async with running(idva_app) as idva:
            pair = Pair(marac_app, idva_app, coordinators, idva)
            first = await refer(pair, body)
            again = await refer(pair, body)
            assert (first.status_code, again.status_code) == (202, 200)
            referral_id = first.json()["marac_referral_id"]
            await one_idva_referral(pair, referral_id)
            waiting = await coordinators.get(
                "/v1/cases",
                params={"area": area, "status": "awaiting_meeting"},
                headers=bearer("marac:read"),
            )
            assert len(waiting.json()) == 1  # one case
            [row] = await internal_events(pair, referral_id)  # announced once
            key = row.key.encode()
            event = CloudEvent(
                id=dict(row.headers)["ce_id"],
                source="/mash/marac",
                type=MARAC_REFERRAL_RECEIVED,
                subject=referral_id,
                data=json.loads(row.payload),
            )
            # the same event redelivered, and the same referral under another event id
            await produce(kafka_bootstrap, MARAC_IDVA_REFERRALS, event, key=key)
            other = CloudEvent(
                id=str(uuid.uuid4()),
                source=event.source,
                type=event.type,
                subject=referral_id,
                data=event.data,
            )
            await produce(kafka_bootstrap, MARAC_IDVA_REFERRALS, other, key=key)
            # a later referral of the same victim (the same key, so the same partition):
            # once its IDVA referral exists, notify has handled the events before it
            same = {k: v for k, v in body["victim"].items() if k != "equality"}
            marker = await refer(pair, referral_body(area, same))
            await one_idva_referral(pair, marker.json()["marac_referral_id"])
            assert len(await referrals_of(idva, "idva", referral_id)) == 1
        # notify restarted on the same database and consumer group: the referral once more
        idva_app = notify_app(kafka_bootstrap, database_url, group)
        async with running(idva_app) as idva:
            pair = Pair(marac_app, idva_app, coordinators, idva)
            third = CloudEvent(
                id=str(uuid.uuid4()),
                source=event.source,
                type=event.type,
                subject=referral_id,
                data=event.data,
            )
            await produce(kafka_bootstrap, MARAC_IDVA_REFERRALS, third, key=key)
            later = await refer(pair, referral_body(area, same))
            await one_idva_referral(pair, later.json()["marac_referral_id"])
            assert len(await referrals_of(idva, "idva", referral_id)) == 1


async def test_a_referral_made_by_idva_refers_nobody_to_idva(pair: Pair) -> None:
    area = new_area()
    body = rich_body(area, referring_agency="idva")
    own = await refer(pair, body)
    assert own.status_code == 202, own.text
    own_id = own.json()["marac_referral_id"]
    # the same victim referred by health next (the same key and partition): once that one's
    # IDVA referral exists, notify has seen whatever came before it
    same = {k: v for k, v in body["victim"].items() if k != "equality"}
    marker = await refer(pair, referral_body(area, same))
    await one_idva_referral(pair, marker.json()["marac_referral_id"])
    assert await referrals_of(pair.idva, "idva", own_id) == []
    assert await internal_events(pair, own_id) == []  # nothing was published for it
