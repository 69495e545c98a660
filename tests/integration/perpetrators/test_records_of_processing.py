"""Perpetrators logs what it does with suspects (contract section 12): scoring a suspect
over their incidents as `combined` (by perpetrators, through the decisions topic), and
publishing a perpetrator for the neighbourhood team as `disclosed` to it; each naming the
suspect (and each incident's victim) by their keys, never a name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import perpetrators.app
from mash_tools.testing import TEST_PSEUDONYM_KEY, bearer, eventually, running
from shared.topics import DECISIONS, PERPETRATORS
from tests.integration.kit import keys_of, logged
from tests.integration.perpetrators.kit import (
    READ,
    Clock,
    DecisionPublisher,
    child,
    decision,
    new_area,
    perpetrator_settings,
    person,
)

pytestmark = pytest.mark.kafka


async def test_scoring_is_combined_and_entering_the_cohort_is_disclosed_to_the_team(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    clock = Clock()
    app = perpetrators.app.create_app(
        perpetrator_settings(kafka_bootstrap, database_url, group), clock=clock
    )
    area, suspect = new_area(), person("suspect", 0)
    victims = [person("victim", 21), person("victim", 22)]
    kids = (child(1, present=True),)
    start = clock.now
    async with running(app) as client, DecisionPublisher(kafka_bootstrap) as triage:
        incidents = [
            decision(area, suspect, victims[0], reported_at=start - timedelta(days=40)),
            decision(area, suspect, victims[1], reported_at=start - timedelta(days=20)),
            decision(
                area, suspect, victims[0], reported_at=start - timedelta(days=1), children=kids
            ),
        ]
        for data in incidents:
            await triage.publish(data)

            # one at a time: the two victims' decisions travel on two partitions, whose
            # order between them no consumer keeps; each score is over what came before
            async def score_logged(incident: str = str(data.incident_id)) -> bool:
                return any(incident in e["ids"] for e in (await logged(app)).of("combined"))

            await eventually(score_logged)

        async def prioritised() -> list[Any] | None:
            answer = await client.get(
                "/v1/perpetrators", params={"area": area}, headers=bearer(*READ)
            )
            return list(answer.json()) or None

        [found] = await eventually(prioritised)
        log = await logged(app)

    perpetrator_id = found["perpetrator_id"]
    ids = [str(d.incident_id) for d in incidents]
    suspect_keys = keys_of(TEST_PSEUDONYM_KEY, suspect)
    combined = log.of("combined", ids=[perpetrator_id, *ids])
    assert len(combined) == 1  # after the third incident: the suspect over all three
    [scored] = combined
    assert (scored["sub"], scored["via"], scored["route"]) == ("perpetrators", "topic", DECISIONS)
    assert scored["resource"] == "perpetrator"
    assert set(scored["subjects"]) == suspect_keys | keys_of(TEST_PSEUDONYM_KEY, *victims)
    # once per incident: the first over one, the second over two
    mine = [e["ids"] for e in log.of("combined") if e["ids"][0] == perpetrator_id]
    assert mine == [[perpetrator_id, *ids[:1]], [perpetrator_id, *ids[:2]], [perpetrator_id, *ids]]
    [disclosed] = log.of("disclosed", ids=[perpetrator_id])
    assert disclosed | {"entry_id": None, "at": None, "subjects": None} == {
        "entry_id": None,
        "at": None,
        "subjects": None,
        "service": "perpetrators",
        "operation": "disclosed",
        "sub": "perpetrators",
        "via": "topic",
        "route": PERPETRATORS,
        "resource": "perpetrator",
        "ids": [perpetrator_id],
        "recipient": "neighbourhood-team",
        "status": "ok",
    }
    assert set(disclosed["subjects"]) == suspect_keys
    [read] = [e for e in log.of("consulted") if e["ids"] == [perpetrator_id]]
    assert set(read["subjects"]) == suspect_keys
    log.assert_nothing_personal_of(suspect, *victims, *kids)
