"""Bounded reads (contract section 2): limits, tamper-proof cursors, the next page's Link,
and keyset order that neither repeats nor skips a row."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

from shared.errors import install_problem_handlers
from shared.pagination import Cursors, PageDep, keyset

SECRET = "a-secret-of-the-platform"


def app(service: str = "notify", secret: str = SECRET) -> FastAPI:
    """A list of 250 numbers, newest (largest) first, paged as every list is."""
    api = FastAPI()
    install_problem_handlers(api)
    settings = SimpleNamespace(hub=SimpleNamespace(pseudonym_key=secret))
    api.state.platform = SimpleNamespace(name=service, settings=settings)
    numbers = list(range(250, 0, -1))

    @api.get("/v1/numbers")
    async def listing(page: PageDep, response: Response) -> list[int]:
        after = page.after
        rows = [n for n in numbers if after is None or n < after[0]][: page.fetch]
        return page.answer(response, rows, lambda n: (n,))

    @api.get("/v1/others")
    async def others(page: PageDep, response: Response) -> list[int]:
        return page.answer(response, [] if page.after else [1, 2], lambda n: (n,))

    return api


async def get(api: FastAPI, url: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://evil.example") as c:
        return await c.get(url)


def next_of(answer: httpx.Response) -> str | None:
    link: str | None = answer.headers.get("link")
    if link is None:
        return None
    assert link.endswith('>; rel="next"')
    return link[1 : link.index(">")]


async def test_the_link_leads_through_every_page_keeping_the_other_parameters() -> None:
    api = app()
    url: str | None = "/v1/numbers?agency=idva&limit=100&x=1&x=2"
    seen: list[int] = []
    pages = 0
    while url is not None:
        answer = await get(api, url)
        assert answer.status_code == 200
        seen += answer.json()
        pages += 1
        url = next_of(answer)
        if url is not None:
            # relative: never the Host a client sent; every other parameter kept
            assert url.startswith("/v1/numbers?")
            assert "evil.example" not in url
            assert "agency=idva" in url
            assert "x=1&x=2" in url
            assert "limit=100" in url
    assert pages == 3
    assert seen == list(range(250, 0, -1))


async def test_the_default_page_holds_100_and_the_last_page_has_no_link() -> None:
    api = app()
    first = await get(api, "/v1/numbers")
    assert len(first.json()) == 100
    last = await get(api, "/v1/numbers?limit=500")
    assert len(last.json()) == 250
    assert "link" not in last.headers


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("after=forged", "after"),
        ("after=eyJ4IjoxfQ.AAAA", "after"),
        ("after=%F0%9F%98%80.%F0%9F%98%80", "after"),
        ("after=" + "a" * 2000, "after"),
    ],
)
async def test_a_bad_limit_or_cursor_answers_422_naming_the_field(query: str, field: str) -> None:
    answer = await get(app(), f"/v1/numbers?{query}")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in answer.json()["errors"]] == [["query", field]]


async def test_a_cursor_of_another_service_list_or_secret_is_refused() -> None:
    mine = next_of(await get(app(), "/v1/numbers?limit=10"))
    assert mine is not None
    cursor = mine.split("after=")[1]
    assert (await get(app(), f"/v1/numbers?after={cursor}")).status_code == 200  # any replica
    assert (await get(app("marac"), f"/v1/numbers?after={cursor}")).status_code == 422
    assert (await get(app(secret="other"), f"/v1/numbers?after={cursor}")).status_code == 422
    assert (await get(app(), f"/v1/others?after={cursor}")).status_code == 422
    mac = cursor.split(".")[1]
    tampered = Cursors(SECRET, "notify", "/v1/numbers").issue((999,)).split(".")[0]
    assert (await get(app(), f"/v1/numbers?after={tampered}.{mac}")).status_code == 422


def test_a_cursor_carries_times_back_as_times() -> None:
    cursors = Cursors(SECRET, "notify", "/v1/referrals")
    at = datetime(2026, 11, 21, 9, 30, 0, 123456, tzinfo=UTC)
    assert cursors.read(cursors.issue((at, "r-1", 7, None))) == (at, "r-1", 7, None)


def test_keyset_with_mixed_directions_pages_without_a_repeat_or_a_gap() -> None:
    metadata = MetaData()
    t = Table(
        "t",
        metadata,
        Column("id", String, primary_key=True),
        Column("score", Integer, nullable=False),
        Column("day", Integer, nullable=False),
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    rng = random.Random(7)
    rows = [
        {"id": f"p{i:03d}", "score": rng.randint(0, 5), "day": rng.randint(0, 3)}
        for i in range(200)
    ]
    order: list[tuple[Any, bool]] = [(t.c.score, True), (t.c.day, False), (t.c.id, False)]
    with engine.begin() as conn:
        conn.execute(t.insert(), rows)
        expected = [
            r.id
            for r in conn.execute(select(t).order_by(t.c.score.desc(), t.c.day.asc(), t.c.id.asc()))
        ]
        seen: list[str] = []
        key = None
        while True:
            query = select(t).order_by(t.c.score.desc(), t.c.day.asc(), t.c.id.asc()).limit(7)
            if key is not None:
                query = query.where(keyset(order, key))
            page = list(conn.execute(query))
            if not page:
                break
            seen += [r.id for r in page]
            key = (page[-1].score, page[-1].day, page[-1].id)
    assert seen == expected
    assert len(set(seen)) == 200
