"""The inbox against an HTTP stand-in answering as contract section 5 says, with the
clock fields notify is gaining (`due_by`, `overdue`): newest first, overdue ones marked,
acknowledged ones shown so; the console marks nothing overdue by itself."""

from __future__ import annotations

import re
from typing import Any

import jwt
import pytest
from fastapi import FastAPI, Header

import console.app
from mash_tools.testing import free_port, hub_settings, running
from shared.auth import trust, verify
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, signed_in

pytestmark = pytest.mark.kafka


def record(n: int, created: str, *, overdue: bool, acknowledged: str | None) -> dict[str, Any]:
    return {
        "referral_id": f"00000000-0000-4000-8000-00000000000{n}",
        "agency": "idva",
        "incident_id": f"10000000-0000-4000-8000-00000000000{n}",
        "reason": "high_risk",
        "risk_level": "high",
        "created_at": created,
        "data": {"safe_to_contact": False},
        "delivery": {"status": "delivered", "attempts": 1},
        "due_by": "2026-11-22T09:30:00Z",
        "acknowledged_at": acknowledged,
        "overdue": overdue,
    }


def stand_in() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/referrals")
    async def referrals(agency: str, authorization: str = Header("")) -> list[dict[str, Any]]:
        bearer = authorization.removeprefix("Bearer ")
        # the console's own key and issuer, for notify alone (contract section 2)
        assert jwt.decode(bearer, options={"verify_signature": False})["iss"] == "mash-console"
        assert verify(trust(hub_settings("127.0.0.1:1")), bearer, "notify").may(
            f"referrals:read:{agency}"
        )
        # notify answers oldest first
        return [
            record(1, "2026-11-20T08:00:00Z", overdue=True, acknowledged=None),
            record(2, "2026-11-21T08:00:00Z", overdue=False, acknowledged="2026-11-21T09:00:00Z"),
            record(3, "2026-11-22T08:00:00Z", overdue=False, acknowledged=None),
        ]

    return app


async def test_newest_first_with_overdue_and_acknowledged_marked(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    port = free_port()
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, notify_url=f"http://127.0.0.1:{port}"
    )
    async with served(stand_in(), port), running(console.app.create_app(settings)) as client:
        await signed_in(client, "idva-caseworker", "referrals:read:idva")
        page = await client.get("/referrals?agency=idva")
    assert page.status_code == 200
    rows = re.findall(r'data-referral-id="[^"]+?(\d)">(.*?)</tr>', page.text, re.S)
    assert [n for n, _ in rows] == ["3", "2", "1"]
    tags = {n: re.findall(r'govuk-tag govuk-tag--(\w+)">([^<]+)<', row) for n, row in rows}
    assert tags == {
        "3": [("blue", "To acknowledge")],
        "2": [("green", "Acknowledged")],
        "1": [("red", "Overdue")],
    }
    assert "22 November 2026, 09:30" in page.text  # due_by, in UK time
