"""The console's MARAC pages against a stand-in marac on loopback (contract sections 2, 6
and 11): the referral form sends marac exactly the form as filled in and shows marac's
422 beside the fields; a form without the session's token reaches nobody; the actions
list pages through marac's pages, and an action on a later page is found by following
them."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

import console.app
from mash_tools.testing import free_port, running
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, signed_in
from tests.integration.console.test_paging import cursor_of, next_link, paged

pytestmark = pytest.mark.kafka
ACTIONS = [str(uuid.UUID(int=n + 1)) for n in range(7)]
FORM = {
    "referral_ref": "RBH-1",
    "referring_agency": "health",
    "referrer-name": "HV",
    "referrer-role": "Health visitor",
    "area": "southampton",
    "victim-given_name": "Alex",
    "victim-family_name": "Example",
    "perpetrators-2-given_name": "Sam",
    "consent": "given",
    "criteria": "potential_escalation",
}


def action(n: int) -> dict[str, Any]:
    return {
        "action_id": ACTIONS[n],
        "case_id": str(uuid.UUID(int=99)),
        "agency": "housing",
        "description": f"Action {n}",
        "due_by": "2026-12-15",
        "status": "open",
        "agreed_at": "2026-12-01T10:00:00Z",
    }


def stand_in(bodies: list[Any], asked: list[tuple[str, str]]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/marac-referrals")
    async def refer(request: Request) -> Response:
        bodies.append(await request.json())
        errors = [{"loc": ["body", "perpetrators", 0, "family_name"], "msg": "Field required"}]
        return JSONResponse({"detail": "1 field error(s)", "errors": errors}, status_code=422)

    @app.get("/v1/actions")
    async def actions(request: Request) -> Response:
        return paged(request, [action(n) for n in range(7)], asked)

    return app


@pytest.fixture
async def client(kafka_bootstrap: str, sqlite_url: str, group: str) -> Any:
    bodies: list[Any] = []
    asked: list[tuple[str, str]] = []
    port = free_port()
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, marac_url=f"http://127.0.0.1:{port}", page_size=3
    )
    async with (
        served(stand_in(bodies, asked), port),
        running(console.app.create_app(settings)) as found,
    ):
        await signed_in(found, "hv", "marac:refer:health", "marac:act:housing")
        found.bodies = bodies  # type: ignore[attr-defined]
        found.asked = asked  # type: ignore[attr-defined]
        yield found


async def test_the_form_goes_to_marac_as_filled_in_and_its_refusal_comes_back(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/marac/refer")
    token = re.findall(r'name="csrf_token" value="([^"]+)"', page.text)[0]
    refused = await client.post("/marac/refer", data=FORM)  # no form token
    assert refused.status_code == 403
    assert client.bodies == []  # type: ignore[attr-defined]

    answer = await client.post("/marac/refer", data={**FORM, "csrf_token": token})
    assert answer.status_code == 400
    assert client.bodies == [  # type: ignore[attr-defined]
        {
            "referral_ref": "RBH-1",
            "referring_agency": "health",
            "referrer": {"name": "HV", "role": "Health visitor"},
            "area": "southampton",
            "victim": {"given_name": "Alex", "family_name": "Example"},
            "perpetrators": [{"given_name": "Sam"}],
            "children": [],
            "criteria": ["potential_escalation"],
            "consent": "given",
        }
    ]
    # marac's perpetrators[0] is the third box on the page: the error is put there
    assert '<a href="#perpetrators-2-family_name">Enter perpetrator 3&#39;s family name</a>' in (
        answer.text
    )
    assert 'id="perpetrators-2-family_name-error"' in answer.text
    assert 'value="Alex"' in answer.text  # the form as it was filled in

    other = await client.post(
        "/marac/refer", data={**FORM, "referring_agency": "police", "csrf_token": token}
    )
    assert other.status_code == 403  # not an agency this account refers for
    assert len(client.bodies) == 1  # type: ignore[attr-defined]


async def test_the_actions_page_pages_through_marac_and_finds_a_later_action(
    client: httpx.AsyncClient,
) -> None:
    url: str | None = "/marac/actions?agency=housing"
    seen: list[list[str]] = []
    while url is not None and len(seen) < 5:
        page = await client.get(url)
        assert page.status_code == 200, page.text
        seen.append(re.findall(r'data-action-id="([^"]+)"', page.text))
        url = next_link(page.text)
    assert seen == [ACTIONS[:3], ACTIONS[3:6], ACTIONS[6:]]
    client.asked.clear()  # type: ignore[attr-defined]
    found = await client.get(f"/marac/actions/{ACTIONS[6]}?agency=housing")
    assert found.status_code == 200
    assert "Action 6" in found.text
    asked = client.asked  # type: ignore[attr-defined]
    assert [after for _, after in asked] == ["", cursor_of(3), cursor_of(6)]
    refused = await client.get(f"/marac/actions/{ACTIONS[6]}?agency=childrens-social-care")
    assert refused.status_code == 403
