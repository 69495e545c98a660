"""The policy and review pages' guards (issue 22), against a loopback stand-in for triage
and records that records what reaches it: nothing without the session's CSRF token, a
policy applied only once confirmed, names only in a request body, a refusal upstream
shown as a 403 page."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import console.app
from mash_tools.testing import free_port, running
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, signed_in

pytestmark = pytest.mark.kafka
TRIAL = str(uuid.uuid4())
POLICY = {"version": "v1", "high_score": 14, "medium_score": 10, "routes": []}


@dataclass
class Upstream:
    asked: list[tuple[str, str, Any]] = field(default_factory=list)
    refuse: bool = False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            body = (await request.body()).decode()
            self.asked.append((request.method, request.url.path + "?" + request.url.query, body))
            if self.refuse:
                return JSONResponse({"detail": "refused"}, status_code=403)
            return await call_next(request)

        @app.get("/v1/policy")
        async def policy() -> dict[str, Any]:
            return {"current": POLICY, "history": []}

        @app.get("/v1/policy-trials/{trial_id}")
        async def trial(trial_id: str) -> dict[str, Any]:
            summary = {"incidents": 4, "changed": 1, "risk_level": {"medium->high": 1}}
            found = {"status": "done", "policy_version": "v2", "done": 4, "total": 4}
            return {"trial_id": trial_id, **found, "summary": summary}

        @app.post("/v1/policy-trials/{trial_id}/apply", status_code=202)
        async def apply(trial_id: str) -> dict[str, str]:
            return {"trial_id": trial_id, "policy_version": "v2"}

        @app.post("/v1/chronology/search")
        async def chronology() -> list[dict[str, Any]]:
            return []

        return app


@pytest.fixture
async def hub(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Upstream]]:
    upstream, port = Upstream(), free_port()
    base = f"http://127.0.0.1:{port}"
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, triage_url=base, records_url=base
    )
    async with served(upstream.app(), port), running(console.app.create_app(settings)) as client:
        await signed_in(client, "panel", "triage:policy", "reviews:read")
        yield client, upstream


def csrf_of(page: httpx.Response) -> str:
    return str(re.findall(r'name="csrf_token" value="([^"]+)"', page.text)[0])


async def test_nothing_is_asked_of_triage_or_records_without_the_form_token(
    hub: tuple[httpx.AsyncClient, Upstream],
) -> None:
    client, upstream = hub
    for path, form in (
        ("/policy/trials", {"policy-version": "v2", "from": "2026-01-01", "to": "2026-02-01"}),
        (f"/policy/trials/{TRIAL}/apply", {"redecide_since": "2026-11-01", "confirm": "yes"}),
        ("/reviews", {"person_id": "N1"}),
        ("/reviews/chronology.csv", {"person_id": "N1"}),
    ):
        for token in ({}, {"csrf_token": "not-the-sessions"}):
            answer = await client.post(path, data={**form, **token})
            assert answer.status_code == 403, (path, token)
    assert upstream.asked == []


async def test_a_policy_is_applied_only_once_confirmed(
    hub: tuple[httpx.AsyncClient, Upstream],
) -> None:
    client, upstream = hub
    csrf = csrf_of(await client.get(f"/policy/trials/{TRIAL}"))
    asked = {"csrf_token": csrf, "redecide_since": "2026-11-01"}
    question = await client.post(f"/policy/trials/{TRIAL}/apply", data=asked)
    assert question.status_code == 200
    assert "Are you sure you want to apply v2?" in question.text
    assert [m for m, path, _ in upstream.asked if path.endswith("/apply?")] == []
    done = await client.post(f"/policy/trials/{TRIAL}/apply", data={**asked, "confirm": "yes"})
    assert done.status_code == 303
    assert done.headers["location"] == "/policy?applied=v2"
    applied = [body for m, path, body in upstream.asked if path.endswith("/apply?")]
    assert applied == ['{"redecide_since":"2026-11-01"}']


async def test_a_persons_names_reach_records_in_the_body_only(
    hub: tuple[httpx.AsyncClient, Upstream],
) -> None:
    client, upstream = hub
    csrf = csrf_of(await client.get("/reviews"))
    form = {
        "csrf_token": csrf,
        "given_name": "Alex",
        "family_name": "Example",
        "date_of_birth-day": "27",
        "date_of_birth-month": "3",
        "date_of_birth-year": "1990",
        "agency": "idva",
        "as_of": "2026-07-01",
        "as_of-time": "09:30",
    }
    answer = await client.post("/reviews", data=form)
    assert answer.status_code == 200
    assert "had received no referral" in answer.text
    [(method, path, body)] = upstream.asked
    assert method == "POST"
    assert "Alex" not in path
    assert "as_of=2026-07-01T08%3A30%3A00%2B00%3A00" in path  # UK summer time, sent in UTC
    assert '"given_name":"Alex"' in body


async def test_a_refusal_upstream_is_a_403_page(hub: tuple[httpx.AsyncClient, Upstream]) -> None:
    client, upstream = hub
    upstream.refuse = True
    for path in ("/policy", f"/policy/trials/{TRIAL}"):
        answer = await client.get(path)
        assert answer.status_code == 403, path
        assert "You cannot see this page" in answer.text
