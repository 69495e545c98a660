"""The console under hostile input (issue 25): every route, fed a bounded table of
hostile values in each of its path segments, query parameters and form fields, with and
without a session, over real HTTP on loopback (uvicorn parses what a browser or an
attacker sends). No answer is a 5xx; the upstream services only ever see the paths the
contract names, with canonical UUIDs in them; and no log line carries a raw control
character.

The upstream is one stand-in for notify, marac and perpetrators that answers as they do
on this branch for these shapes (a list; 404 for an unknown meeting, 422 for an id that
is not a UUID), so that an upstream refusal is shown as what it is.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute

import console.app
from mash_tools.testing import free_port, running
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, redeem, sign_in_link, signed_in

pytestmark = pytest.mark.kafka

MEETING = str(uuid.uuid4())
REFERRAL = str(uuid.uuid4())
INCIDENT = str(uuid.uuid4())
TRIAL = str(uuid.uuid4())
CASE = str(uuid.uuid4())
ACTION = str(uuid.uuid4())
SCOPES = (
    "referrals:read:idva",
    "referrals:ack:idva",
    "marac:read",
    "dashboard:read",
    "perpetrators:read",
    "records:read",
    "triage:policy",
    "reviews:read",
    "marac:admin",
    "marac:refer:idva",
    "marac:act:idva",
)
HOSTILE = [
    "",
    "\x00",
    "a\x00b",
    "\r\nSet-Cookie: x=1",
    "\x1b[31mred",
    "\x08",
    "\t",
    "\x7f",
    "\x85\u2028",
    "é",
    "日本",
    "..",
    "../../v1/meetings",
    "?x=1",
    "#frag",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example",
    "x" * 5000,
    "9999-12-31",
    "0001-01-01",
    "1999-12-31",
    "2101-01-01",
    "2000-01-01",
    "2100-12-31",
    "2026-02-30",
    "not-a-uuid",
    MEETING.upper(),
    "{" + MEETING + "}",
    "urn:uuid:" + MEETING,
    MEETING.replace("-", ""),
    str(uuid.uuid4()),
    "-1",
    "1e309",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%",
    "%%41",
]
RAW = ["%FF", "%C3%A9", "%00", "%0d%0a", "%1B[31m", "%2F..%2F", "%3Fx=1", "%23x", "%E2%80%AE"]
"""Already percent-encoded, sent as they are (invalid UTF-8 and encoded separators)."""

GETS: dict[str, tuple[str, ...]] = {
    "/": ("x",),
    "/referrals": ("agency", "after"),
    "/referrals/{referral_id}": ("agency", "incident"),
    "/marac": ("area", "after", "waiting_after"),
    "/marac/meetings/{meeting_id}": ("after",),
    "/marac/meetings/{meeting_id}/cases.csv": ("x",),
    "/marac/meetings/{meeting_id}/cases": ("after",),
    "/marac/refer": ("agency",),
    "/marac/refer/sent": ("id", "new"),
    "/marac/referrals/{referral_id}": ("x",),
    "/marac/cases/{case_id}": ("x",),
    "/marac/cases/{case_id}/research/{agency}": ("after",),
    "/marac/actions": ("agency", "status", "area", "after"),
    "/marac/actions/{action_id}": ("agency",),
    "/marac/returns": ("x",),
    "/marac/returns/safelives.csv": ("area", "quarter"),
    "/dashboard": ("area", "from", "to"),
    "/dashboard.csv": ("area", "from", "to"),
    "/perpetrators": ("area", "after"),
    "/records": ("x",),
    "/policy": ("applied",),
    "/policy/trials/{trial_id}": ("x",),
    "/policy/trials/{trial_id}/changes.csv": ("x",),
    "/reviews": ("x",),
    "/sign-in": ("next", "signed_out"),
    "/sign-in/link": ("token",),
    "/sign-in/oidc": ("next",),
    "/sign-in/oidc/callback": ("state", "code"),
    "/healthz": ("x",),
    "/readyz": ("x",),
    "/metrics": ("x",),
}
REVIEW_FIELDS = (
    "csrf_token",
    "person_id",
    "given_name",
    "date_of_birth-day",
    "agency",
    "as_of",
    "as_of-time",
    "after",
    "whole",
)
POSTS: dict[str, tuple[str, ...]] = {
    "/referrals/{referral_id}/ack": ("agency", "incident", "csrf_token"),
    "/sign-in/link": ("token", "csrf_token"),
    "/records": (
        "csrf_token",
        "person_id",
        "given_name",
        "family_name",
        "date_of_birth-day",
        "date_of_birth-month",
        "date_of_birth-year",
        "after",
    ),
    "/sign-out": ("csrf_token",),
    "/policy/trials": ("csrf_token", "policy-version", "policy-high_score", "from", "to", "area"),
    "/policy/trials/{trial_id}/apply": ("csrf_token", "redecide_since", "confirm"),
    "/reviews": REVIEW_FIELDS,
    "/reviews/chronology.csv": REVIEW_FIELDS,
    "/marac/refer": (
        "csrf_token",
        "referring_agency",
        "referral_ref",
        "victim-date_of_birth-day",
        "perpetrators-1-given_name",
        "criteria",
        "dash-q1",
    ),
    "/marac/cases/{case_id}/actions": ("csrf_token", "agency", "description", "due_by-day"),
    "/marac/cases/{case_id}/research/{agency}": ("csrf_token", "known", "summary"),
    "/marac/actions/{action_id}/complete": ("csrf_token", "agency", "outcome"),
}
BASE = {
    "agency": "idva",
    "area": "southampton",
    "incident": INCIDENT,
    "from": "2026-10-01",
    "to": "2026-10-31",
    "next": "/marac",
    "referral_id": REFERRAL,
    "meeting_id": MEETING,
    "trial_id": TRIAL,
    "case_id": CASE,
    "action_id": ACTION,
    "id": REFERRAL,
    "quarter": "2026-Q3",
    "status": "open",
}
UUID = r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ALLOWED_UPSTREAM = re.compile(
    r"^/.well-known/openid-configuration$|^/v1/records/search$|^/v1/(referrals|meetings|cases|perpetrators)"
    rf"({UUID}(/cases|/cases\.csv|/ack|/actions|/research/[a-z-]+(/history)?)?)?$"
    rf"|^/v1/(marac-referrals|actions)({UUID}(/complete)?)?$|^/v1/returns/safelives\.csv$"
    rf"|^/v1/policy$|^/v1/policy-trials({UUID}(/apply|/changes\.csv)?)?$|^/v1/chronology/search$"
)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def stand_in(seen: list[str]) -> FastAPI:
    """notify, marac and perpetrators as far as the console's calls go."""
    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        seen.append(request.scope["raw_path"].decode("latin-1"))
        return await call_next(request)

    def known(value: str, what: str) -> None:
        try:
            uuid.UUID(value)
        except ValueError:
            raise HTTPException(422, f"{what} is not a UUID") from None
        if value not in (MEETING, REFERRAL, TRIAL, CASE, ACTION):
            raise HTTPException(404)

    @app.get("/.well-known/openid-configuration")
    async def discovery(request: Request) -> dict[str, str]:
        base = str(request.base_url).rstrip("/")
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
        }

    @app.get("/v1/referrals")
    async def referrals() -> list[dict[str, Any]]:
        return [
            {
                "referral_id": REFERRAL,
                "agency": "idva",
                "incident_id": INCIDENT,
                "reason": "high_risk",
                "risk_level": "high",
                "created_at": "2026-11-20T08:00:00Z",
                "data": {},
                "delivery": {"status": "delivered", "attempts": 1},
                "due_by": "2026-11-22T09:30:00Z",
                "acknowledged_at": None,
                "overdue": False,
            }
        ]

    @app.post("/v1/referrals/{referral_id}/ack")
    async def ack(referral_id: str) -> dict[str, str]:
        known(referral_id, "referral_id")
        return {"status": "acknowledged"}

    @app.get("/v1/meetings")
    async def meetings() -> list[dict[str, Any]]:
        meeting = {"area": "southampton", "date": "2026-12-08", "capacity": 20, "listed": 0}
        return [{"meeting_id": MEETING, **meeting}]

    @app.get("/v1/meetings/{meeting_id}/cases")
    async def cases(meeting_id: str) -> list[dict[str, Any]]:
        known(meeting_id, "meeting_id")
        return []

    @app.get("/v1/meetings/{meeting_id}/cases.csv")
    async def cases_csv(meeting_id: str) -> PlainTextResponse:
        known(meeting_id, "meeting_id")
        return PlainTextResponse("case_id,priority\n", media_type="text/csv")

    @app.post("/v1/records/search")
    async def search(body: dict[str, Any]) -> list[dict[str, Any]]:
        if not body.get("person_id") and not body.get("date_of_birth"):
            raise HTTPException(422, "a person_id, or names and birth")
        return []

    @app.get("/v1/policy")
    async def policy() -> dict[str, Any]:
        return {"current": {"version": "v1", "high_score": 14, "routes": []}, "history": []}

    @app.post("/v1/policy-trials", status_code=202)
    async def trial(body: dict[str, Any]) -> dict[str, str]:
        if not isinstance(body.get("policy", {}).get("high_score"), int):
            raise HTTPException(422, "high_score is not a number")
        return {"trial_id": TRIAL}

    @app.get("/v1/policy-trials/{trial_id}")
    async def progress(trial_id: str) -> dict[str, Any]:
        known(trial_id, "trial_id")
        summary = {"incidents": 1, "changed": 0, "risk_level": {}, "referrals": {}}
        found = {"status": "done", "policy_version": "v2", "done": 1, "total": 1}
        return {"trial_id": trial_id, **found, "summary": summary}

    @app.get("/v1/policy-trials/{trial_id}/changes.csv")
    async def changes(trial_id: str) -> PlainTextResponse:
        known(trial_id, "trial_id")
        return PlainTextResponse("incident_id\n", media_type="text/csv")

    @app.post("/v1/policy-trials/{trial_id}/apply", status_code=202)
    async def apply(trial_id: str) -> dict[str, str]:
        known(trial_id, "trial_id")
        return {"trial_id": trial_id}

    @app.post("/v1/chronology/search")
    async def chronology(body: dict[str, Any]) -> list[dict[str, Any]]:
        if not body.get("person_id") and not body.get("date_of_birth"):
            raise HTTPException(422, "a person_id, or names and birth")
        return []

    marac_stand_in(app, known)

    @app.get("/v1/cases")
    @app.get("/v1/perpetrators")
    async def empty() -> list[dict[str, Any]]:
        return []

    return app


def marac_stand_in(app: FastAPI, known: Any) -> None:
    """Marac's "meeting itself" (contract section 6), as far as the console's calls go."""
    case = {
        "case_id": CASE,
        "meeting_id": MEETING,
        "area": "southampton",
        "status": "listed",
        "incident_ids": [],
        "criteria": ["professional_judgement"],
        "risk_level": "high",
        "dash_score": None,
        "repeat": False,
        "priority": 40,
        "victim": {"given_name": "Fuzz", "family_name": "Synthetic", "date_of_birth": None},
        "suspect": None,
        "children_count": 0,
        "listed_at": None,
        "research_returned": [],
        "sources": [],
        "research": [],
        "actions": [],
    }
    action = {
        "action_id": ACTION,
        "case_id": CASE,
        "agency": "idva",
        "description": "Call",
        "due_by": "2026-12-15",
        "status": "open",
        "agreed_at": "2026-12-01T10:00:00Z",
    }

    @app.post("/v1/marac-referrals")
    async def refer() -> Any:
        errors = [{"loc": ["body", "area"], "msg": "Field required"}]
        return JSONResponse({"detail": "1 field error(s)", "errors": errors}, status_code=422)

    @app.get("/v1/marac-referrals/{referral_id}")
    async def referral(referral_id: str) -> dict[str, Any]:
        known(referral_id, "referral_id")
        return {"marac_referral_id": REFERRAL, "case_id": CASE, "victim": case["victim"]}

    @app.get("/v1/cases/{case_id}")
    async def one_case(case_id: str) -> dict[str, Any]:
        known(case_id, "case_id")
        return case

    @app.put("/v1/cases/{case_id}/research/{agency}")
    @app.post("/v1/cases/{case_id}/actions")
    async def write(case_id: str) -> dict[str, str]:
        known(case_id, "case_id")
        return {}

    @app.get("/v1/cases/{case_id}/research/{agency}/history")
    async def history(case_id: str) -> list[Any]:
        known(case_id, "case_id")
        return []

    @app.get("/v1/actions")
    async def actions() -> list[dict[str, Any]]:
        return [action]

    @app.post("/v1/actions/{action_id}/complete")
    async def complete(action_id: str) -> dict[str, Any]:
        known(action_id, "action_id")
        return {**action, "status": "done"}

    @app.get("/v1/returns/safelives.csv")
    async def national_return() -> PlainTextResponse:
        return PlainTextResponse("area,meeting_date\n", media_type="text/csv")


def segment(value: str, raw: bool) -> str:
    return value if raw else quote(value, safe="")


def gets() -> list[str]:
    urls: list[str] = []
    for template, params in GETS.items():
        slots = re.findall(r"{(\w+)}", template)
        for raw, values in ((False, HOSTILE), (True, RAW)):
            for value in values:
                for slot in slots:
                    path = template.replace(f"{{{slot}}}", segment(value, raw))
                    for other in slots:
                        path = path.replace(f"{{{other}}}", BASE[other])
                    query = {p: BASE[p] for p in params if p in BASE}
                    urls.append(f"{path}?{urlencode(query)}" if query else path)
                path = template
                for slot in slots:
                    path = path.replace(f"{{{slot}}}", BASE[slot])
                for param in params:
                    query = {p: BASE[p] for p in params if p in BASE and p != param}
                    rest = f"&{urlencode(query)}" if query else ""
                    urls.append(f"{path}?{param}={segment(value, raw)}{rest}")
    return urls


def posts(csrf: str) -> list[tuple[str, dict[str, str]]]:
    asked: list[tuple[str, dict[str, str]]] = []
    for template, fields in POSTS.items():
        slots = re.findall(r"{(\w+)}", template)
        for value in HOSTILE:
            for slot in slots:
                path = template.replace(f"{{{slot}}}", quote(value, safe=""))
                for other in slots:
                    path = path.replace(f"{{{other}}}", BASE[other])
                asked.append((path, {"agency": "idva", "csrf_token": csrf}))
            path = template
            for slot in slots:
                path = path.replace(f"{{{slot}}}", BASE[slot])
            for field in fields:
                form = {"agency": "idva", "csrf_token": csrf, "token": "x", "person_id": "N1"}
                form["referring_agency"] = "idva"
                form[field] = value
                asked.append((path, form))
    return asked


async def attack(client: httpx.AsyncClient, csrf: str) -> list[tuple[str, int]]:
    """Every hostile request; the ones answered 5xx."""
    failed: list[tuple[str, int]] = []
    for url in gets():
        answer = await client.get(url)
        if answer.status_code >= 500:
            failed.append((f"GET {url[:120]}", answer.status_code))
    for path, form in posts(csrf):
        answer = await client.post(path, data=form)
        if answer.status_code >= 500:
            failed.append((f"POST {path[:80]} {sorted(form.items())!r:.120}", answer.status_code))
    for path in (
        "/sign-out",
        f"/referrals/{REFERRAL}/ack",
        "/sign-in/link",
        "/records",
        "/policy/trials",
        "/reviews",
    ):
        # a token that is not ASCII, bytes that are not UTF-8, a file, a JSON body
        for content, kind in (
            (b"csrf_token=%C3%A9&agency=idva", "application/x-www-form-urlencoded"),
            (b"csrf_token=%FF&agency=idva", "application/x-www-form-urlencoded"),
            (b'{"csrf_token": "x"}', "application/json"),
            (
                b"--b\r\nContent-Disposition: form-data; name=csrf",
                "multipart/form-data; boundary=b",
            ),
        ):
            answer = await client.post(path, content=content, headers={"content-type": kind})
            if answer.status_code >= 500:
                failed.append((f"POST {path} {content!r}", answer.status_code))
        answer = await client.post(
            path, data={"agency": "idva"}, files={"csrf_token": ("é.txt", b"\xff\x00")}
        )
        if answer.status_code >= 500:
            failed.append((f"POST {path} file", answer.status_code))
    return failed


def every_route(app: FastAPI) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, APIRoute):
            found |= {(method, route.path) for method in (route.methods or set()) - {"HEAD"}}
    return found


async def test_no_hostile_request_answers_5xx_or_reaches_the_logs_raw(
    kafka_bootstrap: str, sqlite_url: str, group: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    seen: list[str] = []
    up, port = free_port(), free_port()
    base = f"http://127.0.0.1:{up}"
    settings = console_settings(
        kafka_bootstrap,
        sqlite_url,
        group,
        notify_url=base,
        marac_url=base,
        perpetrators_url=base,
        records_url=base,
        triage_url=base,
        oidc_issuer=base,
        oidc_client_id="console",
    )
    app = console.app.create_app(settings)
    fuzzed = {("GET", p) for p in GETS} | {("POST", p) for p in POSTS}
    documented = {r for r in every_route(app) if not r[1].startswith(("/docs", "/redoc", "/asyn"))}
    assert documented - fuzzed == set(), "a console route the fuzz does not cover"
    async with served(stand_in(seen), up), served(app, port) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            failed = await attack(client, "not-a-session")
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await redeem(client, sign_in_link("fuzzer", *SCOPES))).status_code == 303
            home = await client.get("/")
            csrf = home.text.split('name="csrf_token" value="')[1].split('"')[0]
            failed += await attack(client, csrf)
            assert (await client.get("/")).status_code == 200  # the session lasted throughout
    assert failed == [], f"{len(failed)} answered 5xx: {failed[:20]}"
    assert seen, "the upstream was never called: the session did not work"
    assert [p for p in seen if not ALLOWED_UPSTREAM.match(p)] == []
    raw = [r.getMessage()[:200] for r in caplog.records if CONTROL.search(r.getMessage())]
    assert raw == []


async def test_the_issues_reproductions_answer_4xx(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    """Issue 25's four classes, its path injection and its redirect, one request each."""
    seen: list[str] = []
    up = free_port()
    base = f"http://127.0.0.1:{up}"
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, notify_url=base, marac_url=base, perpetrators_url=base
    )
    async with served(stand_in(seen), up), running(console.app.create_app(settings)) as client:
        await signed_in(client, "fuzzer", *SCOPES)
        for path in ("/sign-out", f"/referrals/{REFERRAL}/ack"):
            for token in ("%C3%A9", "%FF", "%00"):
                answer = await client.post(
                    path,
                    content=f"csrf_token={token}&agency=idva".encode(),
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
                assert answer.status_code == 403, (path, token)
            answer = await client.post(
                path, data={"agency": "idva"}, files={"csrf_token": ("t", "é".encode())}
            )
            assert answer.status_code == 403, path
        for meeting in ("a%00b", "%0d%0aX", "%1B[31m", "%08", "%09", "%7F", "not-a-uuid"):
            answer = await client.get(f"/marac/meetings/{meeting}/cases.csv")
            assert answer.status_code == 404, meeting
            assert "Page not found" in answer.text
        unknown = await client.get(f"/marac/meetings/{uuid.uuid4()}/cases.csv")
        assert unknown.status_code == 404
        assert "not answering" not in unknown.text
        for query in ("to=9999-12-31", "from=0001-01-01", "to=2101-01-01"):
            for page in ("/dashboard", "/dashboard.csv"):
                answer = await client.get(f"{page}?{query}")
                assert answer.status_code == 400, (page, query)
                assert "between 1 January 2000 and 31 December 2100" in answer.text
        bad_area = await client.get("/dashboard?area=Not%20A%20Slug&to=9999-12-31")
        assert bad_area.status_code == 400
        assert "must be a lower-case name" in bad_area.text  # the area is checked first
        seen.clear()
        for injected in ("%3Fx=1", "..", "%2E%2E", "%23x", "%2F"):
            answer = await client.get(f"/marac/meetings/{injected}/cases.csv")
            assert answer.status_code == 404, injected
        assert seen == []
        slash = await client.get("/marac/", headers={"Host": "evil.example"})
        assert slash.status_code == 404
        assert "location" not in slash.headers
