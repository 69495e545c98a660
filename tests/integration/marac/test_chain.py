"""The whole chain in-process on the real broker: intake -> triage -> marac -> triage.
An incident posted to intake ends on the right meeting list, and the listing makes
triage mark the victim's next incident `repeat_marac`."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import intake.app
import intake.config
import marac.app
import triage.app
import triage.config
import triage.store
from mash_tools.testing import bearer, eventually, running
from tests.builders import dash_body, incident_body, settings_for
from tests.integration.marac.kit import ADMIN, READ, day, marac_settings, new_area

pytestmark = pytest.mark.kafka


async def test_an_incident_posted_to_intake_is_listed_and_makes_the_next_a_repeat_marac(
    kafka_bootstrap: str, tmp_path: Path, group: str
) -> None:
    def url(name: str) -> str:
        return f"sqlite+aiosqlite:///{tmp_path / name}.db"

    intake_app = intake.app.create_app(
        settings_for(intake.config.Settings, kafka_bootstrap, url("intake"), group)
    )
    triage_app = triage.app.create_app(
        settings_for(triage.config.Settings, kafka_bootstrap, url("triage"), group)
    )
    marac_app = marac.app.create_app(marac_settings(kafka_bootstrap, url("marac"), group))
    area = new_area()
    victim = {
        "person_id": f"C{uuid.uuid4().hex[:12]}",
        "given_name": "Chainvictim",
        "family_name": "Synthetic",
        "date_of_birth": "1987-07-07",
    }
    async with (
        running(marac_app) as coordinators,
        running(triage_app) as cru,
        running(intake_app) as control_room,
    ):
        created = await coordinators.post(
            "/v1/meetings",
            json={"area": area, "date": day(7), "capacity": 16},
            headers=bearer(*ADMIN),
        )
        meeting_id = created.json()["meeting_id"]

        async def report(ref: str, yes: int) -> str:
            body = incident_body(ref, area=area, victim=victim, dash=dash_body(yes=yes))
            answer = await control_room.post(
                "/v1/incidents", json=body, headers=bearer("incidents:write")
            )
            assert answer.status_code == 202, answer.text
            return str(answer.json()["incident_id"])

        async def listed() -> list[dict[str, Any]]:
            answer = await coordinators.get(
                f"/v1/meetings/{meeting_id}/cases", headers=bearer(*READ)
            )
            return list(answer.json())

        first = await report(f"HC-CHAIN-{group}-1", yes=16)
        [case] = await eventually(listed)
        assert case["incident_ids"] == [first]
        assert case["criteria"] == ["visible_high_risk"]

        async def triage_knows_the_listing() -> bool:
            async with triage_app.state.platform.sessions() as session:
                stmt = select(triage.store.marac_listings).where(
                    triage.store.marac_listings.c.case_id == case["case_id"]
                )
                return (await session.execute(stmt)).first() is not None

        await eventually(triage_knows_the_listing)
        second = await report(f"HC-CHAIN-{group}-2", yes=3)

        async def decided() -> dict[str, Any] | None:
            answer = await cru.get(f"/v1/decisions/{second}", headers=bearer("triage:read"))
            return dict(answer.json()) if answer.status_code == 200 else None

        decision = await eventually(decided)
        assert decision["risk_level"] == "standard"
        assert decision["marac"] == {"eligible": True, "criteria": ["repeat_marac"]}

        async def joined() -> dict[str, Any] | None:
            cases = await listed()
            return cases[0] if len(cases[0]["incident_ids"]) == 2 else None

        case = await eventually(joined)
        assert case["incident_ids"] == [first, second]
        assert case["criteria"] == ["visible_high_risk", "repeat_marac"]
