"""The perpetrators page against an HTTP stand-in that answers as contract section 10
says (the perpetrators service is being built alongside): the console calls it as the
signed-in person, and shows the list in the order given, with the score's parts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI, Header, HTTPException

import console.app
from mash_tools.testing import free_port, hub_settings, running
from shared.auth import trust, verify
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, signed_in

pytestmark = pytest.mark.kafka


def perpetrator(n: int, score: int) -> dict[str, Any]:
    return {
        "perpetrator_id": f"p-{n}",
        "area": "southampton",
        "score": score,
        "priority": True,
        "components": {"recency": 5, "frequency": n, "gravity": 9, "victims": 2},
        "policy_version": "2026-11",
        "policy_owner": "Test partner agency",
        "person": {"given_name": f"Perp{n}", "family_name": "Synthetic", "date_of_birth": None},
        "incidents_24m": n,
        "victims_count": 2,
        "children_involved": n % 2 == 0,
        "last_incident_at": "2026-11-20T10:00:00Z",
        "scored_at": "2026-11-21T10:00:00Z",
    }


def stand_in(calls: list[tuple[str, str, frozenset[str]]]) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/perpetrators")
    async def listing(area: str, authorization: str = Header("")) -> list[dict[str, Any]]:
        bearer = authorization.removeprefix("Bearer ")
        principal = verify(trust(hub_settings("127.0.0.1:1")), bearer, "perpetrators")
        calls.append((area, principal.subject, principal.scopes))
        if not principal.may("perpetrators:read"):
            raise HTTPException(403)
        return [perpetrator(3, 88), perpetrator(1, 64), perpetrator(2, 61)]

    return app


async def test_the_priority_list_in_the_services_order_with_the_scores_parts(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    calls: list[tuple[str, str, frozenset[str]]] = []
    port = free_port()
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, perpetrators_url=f"http://127.0.0.1:{port}"
    )
    app = console.app.create_app(settings)
    async with served(stand_in(calls), port), running(app) as client:
        await signed_in(client, "neighbourhood-lead", "perpetrators:read")
        page = await client.get("/perpetrators?area=southampton")
    assert page.status_code == 200
    assert re.findall(r"Perp(\d) Synthetic", page.text) == ["3", "1", "2"]
    assert "Frequency: 3" in page.text
    assert "Test partner agency" in page.text
    assert calls == [("southampton", "neighbourhood-lead", frozenset({"perpetrators:read"}))]
