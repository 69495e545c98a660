"""The dashboard's priority perpetrators (issue 20's least privilege kept): never from
`mash.perpetrators.v1`, which names people, but from the perpetrators API's priority list
asked as the signed-in person, every page of it; a person without `perpetrators:read`
is told what the figure needs, and the service is never asked for them.

The perpetrators API here is a stand-in on loopback that answers as contract section 10
and pages as section 2 (a `Link` to the next page), checking the console's token."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI, Header, HTTPException, Request, Response

import console.app
from mash_tools.testing import free_port, hub_settings, running
from shared.auth import trust, verify
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, page_figures, signed_in
from tests.integration.console.test_perpetrators import perpetrator

pytestmark = pytest.mark.kafka

AREA = "southampton"
SCORED = [
    "2026-08-31T22:59:00Z",  # 23:59 BST on 31 August: before the period
    "2026-08-31T23:30:00Z",  # 00:30 BST on 1 September: in it
    "2026-09-10T10:00:00Z",
    "2026-09-29T10:00:00Z",
    "2026-10-02T10:00:00Z",
    "2026-10-31T23:59:00Z",  # 23:59 GMT on 31 October: still in it
    "2026-11-01T00:00:00Z",  # after the period
]


def listed() -> list[dict[str, Any]]:
    """The area's priority list, highest score first, each scored at its own time."""
    return [
        {**perpetrator(n, 90 - n), "perpetrator_id": f"p-{n}", "scored_at": at}
        for n, at in enumerate(SCORED)
    ]


def expected(month: str | None) -> int:
    """Counted here, independently: the scores set in the month (local time) or period."""
    local = {
        "2026-08-31T23:30:00Z": "2026-09",
        "2026-09-10T10:00:00Z": "2026-09",
        "2026-09-29T10:00:00Z": "2026-09",
        "2026-10-02T10:00:00Z": "2026-10",
        "2026-10-31T23:59:00Z": "2026-10",
    }
    return sum(1 for at in SCORED if at in local and month in (None, local[at]))


def stand_in(asked: list[tuple[str, str, str, frozenset[str]]]) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/perpetrators")
    async def listing(
        request: Request, area: str, cohort: str = "priority", authorization: str = Header("")
    ) -> Response:
        principal = verify(
            trust(hub_settings("127.0.0.1:1")),
            authorization.removeprefix("Bearer "),
            "perpetrators",
        )
        if not principal.may("perpetrators:read"):
            raise HTTPException(403)
        after = request.query_params.get("after", "")
        asked.append((area, cohort, after, principal.scopes))
        start = int(base64.urlsafe_b64decode(after).decode()) if after else 0
        end = start + int(request.query_params.get("limit", "100"))
        items = listed()
        headers = {}
        if end < len(items):
            cursor = base64.urlsafe_b64encode(str(end).encode()).decode()
            query = urlencode({**request.query_params, "after": cursor})
            headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
        return Response(
            json.dumps(items[start:end]), media_type="application/json", headers=headers
        )

    return app


async def test_priority_perpetrators_are_counted_from_every_page_of_the_areas_list(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    asked: list[tuple[str, str, str, frozenset[str]]] = []
    port = free_port()
    settings = console_settings(
        kafka_bootstrap,
        sqlite_url,
        group,
        perpetrators_url=f"http://127.0.0.1:{port}",
        page_size=3,
    )
    query = f"area={AREA}&from=2026-09-01&to=2026-10-31"
    async with served(stand_in(asked), port), running(console.app.create_app(settings)) as client:
        await signed_in(client, "manager", "dashboard:read", "perpetrators:read")
        page = await client.get(f"/dashboard?{query}")
        download = await client.get(f"/dashboard.csv?{query}")
    assert page.status_code == 200, page.text
    figures = page_figures(page.text)["priority_perpetrators"]
    assert figures == {
        "2026-09": str(expected("2026-09")),
        "2026-10": str(expected("2026-10")),
        "total": str(expected(None)),
    }
    assert expected(None) == 5
    # seven on the list, three a page: three pages for the page, three for the CSV
    assert [a[2] == "" for a in asked] == [True, False, False] * 2
    assert {(a[0], a[1]) for a in asked} == {(AREA, "priority")}
    assert all(a[3] == {"dashboard:read", "perpetrators:read"} for a in asked)
    rows = {r["month"]: r for r in csv.DictReader(io.StringIO(download.text))}
    assert rows["2026-09"]["priority_perpetrators"] == figures["2026-09"]
    assert rows["2026-10"]["priority_perpetrators"] == figures["2026-10"]
    # counts only: no one on the list is named on the dashboard
    assert "Synthetic" not in page.text
    assert "Synthetic" not in download.text


@pytest.mark.parametrize(
    ("scopes", "area", "says"),
    [
        (("dashboard:read",), AREA, "Needs perpetrators:read"),
        (("dashboard:read", "perpetrators:read"), "", "Choose an area"),
    ],
)
async def test_without_the_permission_or_an_area_the_figure_says_what_it_needs(
    kafka_bootstrap: str,
    sqlite_url: str,
    group: str,
    scopes: tuple[str, ...],
    area: str,
    says: str,
) -> None:
    asked: list[tuple[str, str, str, frozenset[str]]] = []
    port = free_port()
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, perpetrators_url=f"http://127.0.0.1:{port}"
    )
    query = f"area={area}&from=2026-10-01&to=2026-10-31"
    async with served(stand_in(asked), port), running(console.app.create_app(settings)) as client:
        await signed_in(client, "manager", *scopes)
        page = await client.get(f"/dashboard?{query}")
        download = await client.get(f"/dashboard.csv?{query}")
    assert page.status_code == 200, page.text
    assert page_figures(page.text)["priority_perpetrators"] == {"2026-10": says, "total": says}
    assert page_figures(page.text)["incidents"]["total"] == "0"
    [row] = csv.DictReader(io.StringIO(download.text))
    assert row["priority_perpetrators"] == ""
    assert asked == []


async def test_a_perpetrators_service_that_does_not_answer_leaves_the_rest_of_the_board(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    # nothing listens on this port
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, perpetrators_url=f"http://127.0.0.1:{free_port()}"
    )
    async with running(console.app.create_app(settings)) as client:
        await signed_in(client, "manager", "dashboard:read", "perpetrators:read")
        page = await client.get(f"/dashboard?area={AREA}&from=2026-10-01&to=2026-10-31")
    assert page.status_code == 200, page.text
    says = "Perpetrators service not answering"
    assert page_figures(page.text)["priority_perpetrators"] == {"2026-10": says, "total": says}
