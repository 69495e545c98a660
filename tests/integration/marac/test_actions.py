"""Actions (contract section 6): agreed by the coordinator, completed only by their own
agency, listed open / overdue / done, and an overdue one escalated once, across restarts
(the actions' clock moved rather than waited for)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import marac.app
from marac import repository
from marac.domain.meeting import Action
from marac.jobs import ActionClock
from mash_tools.testing import TopicReader, bearer, data_of, eventually, headers_of, running
from shared.topics import ESCALATIONS, MARAC, MARAC_ACTION_AGREED, MARAC_ACTION_COMPLETED
from tests.integration.marac.kit import (
    ADMIN,
    READ,
    day,
    marac_settings,
    new_area,
    refer_scope,
    referral_body,
    victim,
)

pytestmark = pytest.mark.kafka
CSC = "childrens-social-care"


def act(agency: str) -> tuple[str, ...]:
    return (f"marac:act:{agency}",)


async def new_case(client: httpx.AsyncClient, area: str, n: int) -> str:
    answer = await client.post(
        "/v1/marac-referrals",
        json=referral_body(area, victim(n)),
        headers=bearer(*refer_scope("health")),
    )
    assert answer.status_code == 202, answer.text
    cases = await client.get("/v1/cases", params={"area": area}, headers=bearer(*READ))
    return str(cases.json()[0]["case_id"])


async def agree(
    client: httpx.AsyncClient, case_id: str, agency: str, due: int = 7, text: str = "Visit"
) -> httpx.Response:
    return await client.post(
        f"/v1/cases/{case_id}/actions",
        json={"agency": agency, "description": text, "due_by": day(due)},
        headers=bearer(*ADMIN),
    )


async def types_on(topic: TopicReader, subject: str, count: int) -> list[Any]:
    async def found() -> list[Any] | None:
        await topic.poll()
        mine = [r for r in topic.records if headers_of(r)["ce_subject"] == subject]
        return mine if len(mine) >= count else None

    records: list[Any] = await eventually(found)
    return records


async def test_an_action_is_completed_only_by_its_own_agency(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    area = new_area()
    async with running(app) as client, TopicReader(kafka_bootstrap, MARAC) as topic:
        case_id = await new_case(client, area, 81)
        answer = await agree(client, case_id, CSC, text="Strategy discussion for the children")
        assert answer.status_code == 201, answer.text
        action = answer.json()
        assert set(action) >= {"action_id", "case_id", "agency", "description", "due_by"}
        assert action | {"action_id": None, "agreed_at": None} == {
            "action_id": None,
            "case_id": case_id,
            "agency": CSC,
            "description": "Strategy discussion for the children",
            "due_by": day(7),
            "status": "open",
            "agreed_at": None,
            "outcome": None,
            "completed_at": None,
        }
        url = f"/v1/actions/{action['action_id']}/complete"
        housing = await client.post(url, json={"outcome": "Done"}, headers=bearer(*act("housing")))
        assert housing.status_code == 403
        admin = await client.post(url, json={"outcome": "Done"}, headers=bearer(*ADMIN))
        assert admin.status_code == 403
        done = await client.post(url, json={"outcome": "Held"}, headers=bearer(*act(CSC)))
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["outcome"]) == ("done", "Held")
        again = await client.post(url, json={"outcome": "Held"}, headers=bearer(*act(CSC)))
        assert again.status_code == 200
        other = await client.post(url, json={"outcome": "Other"}, headers=bearer(*act(CSC)))
        assert other.status_code == 409
        unknown = await client.post(
            f"/v1/actions/{uuid.uuid4()}/complete", json={"outcome": "x"}, headers=bearer(*act(CSC))
        )
        assert unknown.status_code == 404

        records = await types_on(topic, action["action_id"], 2)
        assert [headers_of(r)["ce_type"] for r in records] == [
            MARAC_ACTION_AGREED,
            MARAC_ACTION_COMPLETED,
        ]
        assert [data_of(r)["status"] for r in records] == ["open", "done"]
        assert all("Strategy" not in r.value.decode() for r in records)
        case = (await client.get(f"/v1/cases/{case_id}", headers=bearer(*READ))).json()
        assert [(a["action_id"], a["status"]) for a in case["actions"]] == [
            (action["action_id"], "done")
        ]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"agency": "nobody", "description": "x", "due_by": day(3)}, ["body", "agency"]),
        ({"agency": "housing", "description": "", "due_by": day(3)}, ["body", "description"]),
        (
            {"agency": "housing", "description": "x" * 4001, "due_by": day(3)},
            ["body", "description"],
        ),
        ({"agency": "housing", "description": "x", "due_by": day(-1)}, ["body", "due_by"]),
        ({"agency": "housing", "description": "x", "due_by": "soon"}, ["body", "due_by"]),
    ],
)
async def test_a_bad_action_is_refused(
    kafka_bootstrap: str, database_url: str, group: str, body: dict[str, Any], loc: list[str]
) -> None:
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client:
        case_id = await new_case(client, new_area(), 82)
        answer = await client.post(
            f"/v1/cases/{case_id}/actions", json=body, headers=bearer(*ADMIN)
        )
        assert answer.status_code == 422, answer.text
        assert loc in [e["loc"] for e in answer.json()["errors"]]
        ok = {"agency": "housing", "description": "x", "due_by": day(3)}
        refused = await client.post(f"/v1/cases/{case_id}/actions", json=ok, headers=bearer(*READ))
        assert refused.status_code == 403
        case = (await client.get(f"/v1/cases/{case_id}", headers=bearer(*READ))).json()
        assert case["actions"] == []


async def test_actions_are_listed_open_overdue_and_done(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    area = new_area()
    async with running(app) as client:
        case_id = await new_case(client, area, 83)
        soon = (await agree(client, case_id, "housing", due=2)).json()["action_id"]
        later = (await agree(client, case_id, "housing", due=9)).json()["action_id"]
        theirs = (await agree(client, case_id, CSC, due=5)).json()["action_id"]
        late = str(uuid.uuid4())
        now = datetime.now(UTC)
        async with app.state.platform.uow() as session:
            past = now.date() - timedelta(days=3)
            await repository.insert_action(
                session, Action(late, case_id, area, "housing", "Late", past, False, now)
            )
        await client.post(
            f"/v1/actions/{theirs}/complete", json={"outcome": "Done"}, headers=bearer(*act(CSC))
        )

        async def ids(params: dict[str, Any], *scopes: str) -> list[str]:
            answer = await client.get("/v1/actions", params=params, headers=bearer(*scopes))
            assert answer.status_code == 200, answer.text
            return [a["action_id"] for a in answer.json()]

        assert await ids({"area": area}, *READ) == [late, soon, theirs, later]
        assert await ids({"area": area, "status": "open"}, *READ) == [soon, later]
        assert await ids({"area": area, "status": "overdue"}, *READ) == [late]
        assert await ids({"area": area, "status": "done"}, *READ) == [theirs]
        own = {"area": area, "agency": "housing"}
        assert await ids(own, *act("housing")) == [late, soon, later]
        for params in ({"area": area}, {"area": area, "agency": CSC}):
            refused = await client.get(
                "/v1/actions", params=params, headers=bearer(*act("housing"))
            )
            assert refused.status_code == 403

        first = await client.get(
            "/v1/actions", params={"area": area, "limit": 3}, headers=bearer(*READ)
        )
        assert [a["action_id"] for a in first.json()] == [late, soon, theirs]
        link = first.headers["link"].split(">")[0].lstrip("<")
        rest = await client.get(link, headers=bearer(*READ))
        assert [a["action_id"] for a in rest.json()] == [later]
        assert "link" not in rest.headers
        overdue = await client.get("/v1/actions", params={"status": "late"}, headers=bearer(*READ))
        assert overdue.status_code == 422


async def test_an_overdue_action_is_escalated_once_across_restarts(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    settings = marac_settings(kafka_bootstrap, database_url, group)
    area = new_area()
    moved = ActionClock(3600, clock=lambda: datetime.now(UTC) + timedelta(days=3))
    async with TopicReader(kafka_bootstrap, ESCALATIONS) as topic:
        app = marac.app.create_app(settings)
        async with running(app) as client:
            case_id = await new_case(client, area, 84)
            action = (await agree(client, case_id, "housing", due=1)).json()
            assert await moved.run_once(app.state.platform) == 1
            assert await moved.run_once(app.state.platform) == 0
            [escalation] = await types_on(topic, action["action_id"], 1)
        again = marac.app.create_app(settings)
        async with running(again) as client:
            assert await moved.run_once(again.state.platform) == 0
            marker = (await agree(client, case_id, "police", due=0)).json()
            assert await moved.run_once(again.state.platform) == 1
            await types_on(topic, marker["action_id"], 1)
            listed = await client.get(
                "/v1/actions", params={"area": area, "status": "open"}, headers=bearer(*READ)
            )
            assert len(listed.json()) == 2  # overdue only on the moved clock
    assert (
        len([r for r in topic.records if headers_of(r)["ce_subject"] == action["action_id"]]) == 1
    )
    data = data_of(escalation)
    assert data == {
        "action_id": action["action_id"],
        "case_id": case_id,
        "agency": "housing",
        "due_by": day(1),
        "overdue_since": data["overdue_since"],
    }
    assert headers_of(escalation)["ce_type"] == "mash.marac.action_overdue"
    assert data["overdue_since"].startswith(day(2))
