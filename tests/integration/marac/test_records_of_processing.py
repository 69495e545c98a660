"""Marac logs each incident joining a case (contract section 12): `combined`, by marac
through the decisions topic, naming the case and all its incidents and the victim's and
suspect's keys, never a name."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import marac.app
from marac import store
from mash_tools.testing import TEST_PSEUDONYM_KEY, eventually, running
from shared.topics import DECISIONS
from tests.integration.kit import keys_of, logged
from tests.integration.marac.kit import (
    DecisionPublisher,
    decision,
    marac_settings,
    new_area,
    victim,
)

pytestmark = pytest.mark.kafka


async def _received(app: Any, incident_id: str) -> bool:
    async with app.state.platform.sessions() as session:
        stmt = select(store.messages.inbox).where(store.messages.inbox.c.subject == incident_id)
        return (await session.execute(stmt)).first() is not None


async def test_an_incident_joining_a_case_is_logged_as_combined(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area, person = new_area(), victim(1, address={"lines": ["9 Quiet Row"], "postcode": "SO9 9ZZ"})
    first, second = decision(area, person), decision(area, person)
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app), DecisionPublisher(kafka_bootstrap) as triage:
        for data in (first, second):
            await triage.publish(data)
            await eventually(lambda: _received(app, str(data.incident_id)))  # noqa: B023
        log = await logged(app)

    one, two = str(first.incident_id), str(second.incident_id)
    new_case, joined = [e for e in log.of("combined") if one in e["ids"]]
    case_id = new_case["ids"][0]
    assert new_case["ids"] == [case_id, one]  # a new case of its first incident
    assert joined | {"entry_id": None, "at": None, "subjects": None} == {
        "entry_id": None,
        "at": None,
        "subjects": None,
        "service": "marac",
        "operation": "combined",
        "sub": "marac",
        "via": "topic",
        "route": DECISIONS,
        "resource": "marac_case",
        "ids": [case_id, one, two],
        "recipient": None,
        "status": "ok",
    }
    suspect = first.incident.suspect
    assert suspect is not None
    expected = keys_of(TEST_PSEUDONYM_KEY, person, suspect.model_dump(mode="json"))
    assert set(joined["subjects"]) == expected
    log.assert_nothing_personal_of(person, suspect.model_dump(mode="json"))
