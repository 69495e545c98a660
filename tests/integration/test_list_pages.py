"""Every list endpoint of every service pages (contract section 2): `limit` outside 1-500
and a cursor the list did not issue (forged, another list's, another service's) answer 422
naming the field, as problem details; a good page answers 200."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import marac.app
import perpetrators.app
from mash_tools.testing import TEST_PSEUDONYM_KEY, bearer, running
from shared.pagination import Cursors
from tests.integration.marac.kit import marac_settings
from tests.integration.notify.kit import notify_app
from tests.integration.perpetrators.kit import perpetrator_settings

pytestmark = pytest.mark.kafka

# an id nothing has: the same in every process collecting the tests (pytest-xdist)
UNKNOWN = uuid.UUID(int=1, version=4)
MEETING = str(UNKNOWN)
LISTS = [
    ("notify", "/v1/referrals", {"agency": "idva"}, "referrals:read:*"),
    ("marac", "/v1/meetings", {"area": "southampton"}, "marac:read"),
    ("marac", f"/v1/meetings/{MEETING}/cases", {}, "marac:read"),
    ("marac", "/v1/cases", {"area": "southampton"}, "marac:read"),
    ("perpetrators", "/v1/perpetrators", {"area": "southampton"}, "perpetrators:read"),
]
"""(service, path, other parameters, scope): every list endpoint of every service.
Intake and triage answer one record at a time; CSV exports are whole files."""


def forged(service: str, path: str) -> list[str]:
    """Cursors the list did not issue: garbage, a signed key of another list of the same
    service, one of the same list signed as another service, one with another secret."""
    template = (
        "/v1/meetings/{meeting_id}/cases" if "/cases" in path and "meetings" in path else path
    )
    other_list = "/v1/other" if template != "/v1/other" else "/v1/else"
    return [
        "forged",
        "eyJkdCI6IjIwMjYifQ.c2lnbmF0dXJl",
        Cursors(TEST_PSEUDONYM_KEY, service, other_list).issue(("2026", "x")),
        Cursors(TEST_PSEUDONYM_KEY, "records", template).issue(("2026", "x")),
        Cursors("another secret", service, template).issue(("2026", "x")),
    ]


@pytest.fixture(scope="module")
async def clients(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Notify, marac and perpetrators, running, each with a database of its own."""
    root = Path(tmp_path_factory.mktemp("lists"))
    group = f"test-{uuid.uuid4().hex[:8]}"

    def url(name: str) -> str:
        return f"sqlite+aiosqlite:///{root / f'{name}.db'}"

    apps = {
        "notify": notify_app(kafka_bootstrap, url("notify"), group),
        "marac": marac.app.create_app(marac_settings(kafka_bootstrap, url("marac"), group)),
        "perpetrators": perpetrators.app.create_app(
            perpetrator_settings(kafka_bootstrap, url("perpetrators"), group)
        ),
    }
    async with (
        running(apps["notify"]) as notify,
        running(apps["marac"]) as marac_client,
        running(apps["perpetrators"]) as perps,
    ):
        yield {"notify": notify, "marac": marac_client, "perpetrators": perps}


@pytest.mark.parametrize(
    ("service", "path", "params", "scope"), LISTS, ids=[p for _, p, _, _ in LISTS]
)
async def test_a_limit_out_of_range_or_a_cursor_not_issued_is_422(
    clients: dict[str, httpx.AsyncClient],
    service: str,
    path: str,
    params: dict[str, str],
    scope: str,
) -> None:
    client = clients[service]
    good = await client.get(path, params={**params, "limit": "1"}, headers=bearer(scope))
    assert good.status_code in (200, 404), good.text  # 404: the unknown meeting
    bad = [({"limit": v}, "limit") for v in ("0", "501", "-3", "many")]
    bad += [({"after": c}, "after") for c in forged(service, path)]
    for query, field in bad:
        answer = await client.get(path, params={**params, **query}, headers=bearer(scope))
        assert answer.status_code == 422, (query, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["loc"] for e in answer.json()["errors"]] == [["query", field]], query
    # authentication still comes first
    assert (await client.get(path, params={**params, "limit": "0"})).status_code == 401
