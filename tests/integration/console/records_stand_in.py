"""A stand-in for the records service (contract section 12), on loopback: the records
service is being built on another branch, so the console's records page is tried
against answers shaped as the contract says. `POST /v1/records/search` takes a person id
or names and a date of birth, checks the bearer's `records:read`, and answers the
entries oldest first, a page at a time (section 2's `limit`, `after`, `Link`)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from fastapi import FastAPI, Header, HTTPException, Request, Response

from mash_tools.testing import hub_settings
from shared.auth import trust, verify

ENTRIES = [
    ("2026-11-20T08:00:00Z", "intake", "collected", "control-room", "api", "/v1/incidents", None),
    ("2026-11-20T08:00:02Z", "triage", "combined", "triage", "topic", "mash.incidents.v1", None),
    (
        "2026-11-20T08:00:05Z",
        "notify",
        "disclosed",
        "notify",
        "topic",
        "mash.referrals.idva.v1",
        "idva",
    ),
    ("2026-11-20T08:01:00Z", "notify", "disclosed", "notify", "webhook", "127.0.0.1", "idva"),
    (
        "2026-11-21T09:30:00Z",
        "notify",
        "consulted",
        "idva-caseworker",
        "api",
        "/v1/referrals",
        None,
    ),
]


def entry(n: int) -> dict[str, Any]:
    at, service, operation, sub, via, route, recipient = ENTRIES[n]
    return {
        "entry_id": f"00000000-0000-4000-8000-{n:012d}",
        "at": at,
        "service": service,
        "operation": operation,
        "sub": sub,
        "via": via,
        "route": route,
        "resource": "referral",
        "ids": [f"10000000-0000-4000-8000-{n:012d}"],
        "subjects": ["k1", "k2"],
        "recipient": recipient,
        "status": 200 if via == "api" else "ok",
    }


TRUST = trust(hub_settings("127.0.0.1:1"))
"""Whom records trusts: the suite's people and its console (contract section 2)."""


def records_stand_in(
    bodies: list[dict[str, Any]], bearers: list[dict[str, Any]] | None = None
) -> FastAPI:
    """The stand-in; each search's body goes to `bodies`, and the claims of each bearer
    it accepts to `bearers` (a bearer it does not: 401, as records answers)."""
    app = FastAPI()

    @app.post("/v1/records/search")
    async def search(request: Request, authorization: str = Header("")) -> Response:
        bearer = authorization.removeprefix("Bearer ")
        try:
            principal = verify(TRUST, bearer, "records")
        except PermissionError:
            raise HTTPException(401) from None
        if not principal.may("records:read"):
            raise HTTPException(403)
        if bearers is not None:
            bearers.append(jwt.decode(bearer, options={"verify_signature": False}))
        body = await request.json()
        bodies.append(body)
        names = ("given_name", "family_name", "date_of_birth")
        if not body.get("person_id") and not all(body.get(n) for n in names):
            raise HTTPException(422, "a person_id, or names and birth")
        found = [] if body.get("person_id") == "N404" else [entry(n) for n in range(len(ENTRIES))]
        limit = int(request.query_params.get("limit", "100"))
        after = request.query_params.get("after", "")
        try:
            start = int(base64.urlsafe_b64decode(after).decode()) if after else 0
        except ValueError:
            raise HTTPException(422, "The cursor was not issued by this service.") from None
        headers = {}
        if start + limit < len(found):
            cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            nxt = request.url.include_query_params(after=cursor)
            headers["Link"] = f'<{nxt}>; rel="next"'
        page = json.dumps(found[start : start + limit])
        return Response(page, media_type="application/json", headers=headers)

    return app
