"""The console pages through the services' lists (contract sections 2 and 11): one page
at a time with the service's `limit`, a GOV.UK "Next page" link carrying the service's
cursor, a record found by following `Link: rel="next"`, and CSV exports streamed.

The services on this branch do not page yet (they ignore `limit` and `after`), so the
upstream here is a stand-in on loopback that pages as section 2 says: a JSON array, a
`Link` header to the next page, 422 for a cursor it did not issue."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import StreamingResponse

import console.app
from mash_tools.testing import free_port, running
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, signed_in

pytestmark = pytest.mark.kafka
REFERRALS = [str(uuid.UUID(int=n + 1)) for n in range(7)]
MEETING = str(uuid.uuid4())
CSV_ROWS = 20_000


def referral(n: int) -> dict[str, Any]:
    return {
        "referral_id": REFERRALS[n],
        "agency": "idva",
        "incident_id": str(uuid.UUID(int=1000 + n)),
        "reason": "high_risk",
        "risk_level": "high",
        "created_at": f"2026-11-{10 + n:02d}T08:00:00Z",
        "data": {},
        "delivery": {"status": "delivered", "attempts": 1},
        "due_by": "2026-11-22T09:30:00Z",
        "acknowledged_at": None,
        "overdue": False,
    }


def cursor_of(index: int) -> str:
    return base64.urlsafe_b64encode(f"at:{index}".encode()).decode()


def paged(request: Request, items: list[Any], asked: list[tuple[str, str]]) -> Response:
    """Section 2's pagination over `items`."""
    limit = request.query_params.get("limit", "100")
    after = request.query_params.get("after", "")
    asked.append((limit, after))
    start = 0
    if after:
        try:
            start = int(base64.urlsafe_b64decode(after).decode().removeprefix("at:"))
        except ValueError:
            raise HTTPException(422, "The cursor was not issued by this service.") from None
    end = start + int(limit)
    headers = {}
    if end < len(items):
        # relative, as shared.pagination writes it (records writes an absolute URL)
        query = dict(request.query_params) | {"after": cursor_of(end)}
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return Response(json.dumps(items[start:end]), media_type="application/json", headers=headers)


def stand_in(asked: list[tuple[str, str]]) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/referrals")
    async def referrals(request: Request) -> Response:
        return paged(request, [referral(n) for n in range(7)], asked)

    @app.get("/v1/meetings/{meeting_id}/cases.csv")
    async def csv(meeting_id: str) -> StreamingResponse:
        async def rows() -> Any:
            yield b"case_id,priority\n"
            for n in range(CSV_ROWS):
                yield f"{uuid.UUID(int=n)},{n % 100}\n".encode()

        return StreamingResponse(rows(), media_type="text/csv")

    return app


def rows_of(html: str) -> list[str]:
    return re.findall(r'data-referral-id="([^"]+)"', html)


def next_link(html: str) -> str | None:
    found = re.findall(r'href="([^"]+)" rel="next"', html)
    return found[0].replace("&amp;", "&") if found else None


@pytest.fixture
async def console_client(kafka_bootstrap: str, sqlite_url: str, group: str) -> Any:
    asked: list[tuple[str, str]] = []
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = console_settings(
        kafka_bootstrap,
        sqlite_url,
        group,
        notify_url=base,
        marac_url=base,
        perpetrators_url=base,
        page_size=3,
    )
    async with served(stand_in(asked), port), running(console.app.create_app(settings)) as client:
        await signed_in(client, "idva-caseworker", "referrals:read:idva", "marac:read")
        client.asked = asked  # type: ignore[attr-defined]
        yield client


async def test_the_inbox_shows_one_page_at_a_time_with_a_next_link(
    console_client: httpx.AsyncClient,
) -> None:
    seen: list[list[str]] = []
    url: str | None = "/referrals?agency=idva"
    pages = 0
    while url is not None and pages < 5:
        page = await console_client.get(url)
        assert page.status_code == 200, page.text
        seen.append(rows_of(page.text))
        assert 'class="govuk-pagination' in page.text or pages == 0
        if pages:
            assert "First page" in page.text
        url = next_link(page.text)
        pages += 1
    # newest first within each page; the pages in the service's order
    assert seen == [REFERRALS[2::-1], REFERRALS[5:2:-1], REFERRALS[6:]]
    asked = console_client.asked  # type: ignore[attr-defined]
    assert asked == [("3", ""), ("3", cursor_of(3)), ("3", cursor_of(6))]


async def test_a_cursor_is_checked_and_a_refused_one_shown_as_what_it_is(
    console_client: httpx.AsyncClient,
) -> None:
    asked = console_client.asked  # type: ignore[attr-defined]
    for hostile in ("a b", "x" * 1025, "%00", "é"):
        answer = await console_client.get(f"/referrals?agency=idva&after={hostile}")
        assert answer.status_code == 400, hostile
    assert asked == []
    refused = await console_client.get("/referrals?agency=idva&after=not-one-of-its-own")
    assert refused.status_code == 422
    assert "The cursor was not issued by this service." in refused.text
    assert "not answering" not in refused.text


async def test_a_referral_on_a_later_page_is_found_by_following_the_links(
    console_client: httpx.AsyncClient,
) -> None:
    page = await console_client.get(f"/referrals/{REFERRALS[6]}?agency=idva")
    assert page.status_code == 200
    assert REFERRALS[6] in page.text
    asked = console_client.asked  # type: ignore[attr-defined]
    assert [after for _, after in asked] == ["", cursor_of(3), cursor_of(6)]


async def test_the_meeting_csv_is_streamed_through_whole(
    console_client: httpx.AsyncClient,
) -> None:
    async with console_client.stream("GET", f"/marac/meetings/{MEETING}/cases.csv") as answer:
        assert answer.status_code == 200
        assert "content-length" not in answer.headers  # chunked: passed on as it came
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="marac-{MEETING}.csv"'
        )
        body = b"".join([chunk async for chunk in answer.aiter_bytes()])
    lines = body.decode().splitlines()
    assert len(lines) == CSV_ROWS + 1
    assert lines[-1] == f"{uuid.UUID(int=CSV_ROWS - 1)},{(CSV_ROWS - 1) % 100}"
