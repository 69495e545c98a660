"""The demo's subject access request reads every page of the records service's answer
(contract section 2's `Link: rel="next"`), prints it in time order, and says what verify
said; a person's names are in the question only."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from mash_tools import subject_access

VICTIM = {"given_name": "Amira", "family_name": "Ashdown", "date_of_birth": "1990-01-02"}


def entry(at: str, operation: str, service: str, **more: Any) -> dict[str, Any]:
    return {
        "entry_id": f"{service}-{at}",
        "at": at,
        "service": service,
        "operation": operation,
        "sub": "mash-demo",
        "via": "api",
        "route": "/v1/x",
        "resource": "incident",
        "ids": ["i-1"],
        "subjects": ["k"],
        "recipient": None,
        "status": 200,
        **more,
    }


PAGES = [
    [
        entry("2026-12-05T06:00:02Z", "combined", "triage", via="topic"),
        entry("2026-12-05T06:00:01Z", "collected", "intake"),
    ],
    [
        entry("2026-12-05T06:00:03Z", "disclosed", "notify", recipient="idva", via="topic"),
        entry("2026-12-05T06:00:04Z", "consulted", "triage"),
        entry(
            "2026-12-05T06:00:05Z",
            "consulted",
            "records",
            sub="idva.demo-inbox",
            via="topic",
            recipient="idva",
        ),
    ],
]


def records_service(
    verified: dict[str, Any], pages: list[list[dict[str, Any]]] = PAGES
) -> httpx.MockTransport:
    asked: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Bearer ")
        if request.url.path == "/v1/records/verify":
            return httpx.Response(200, json=verified)
        assert request.url.path == "/v1/records/search"
        asked.append(json.loads(request.content))
        page = int(request.url.params.get("after", "0"))
        headers = {}
        if page + 1 < len(pages):
            headers["link"] = (
                f'<http://records.test/v1/records/search?after={page + 1}>; rel="next"'
            )
        return httpx.Response(200, json=pages[page], headers=headers)

    transport = httpx.MockTransport(answer)
    transport.asked = asked  # type: ignore[attr-defined]
    return transport


def test_every_page_is_read_and_the_entries_are_in_time_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    transport = records_service({"ok": True, "entries": 4})
    with httpx.Client(transport=transport) as client:
        answer = subject_access.ask(client, "http://records.test", VICTIM, time.monotonic() + 5)
    assert [e["operation"] for e in answer.entries] == [
        "collected",
        "combined",
        "disclosed",
        "consulted",
        "consulted",
    ]
    assert answer.missing == []
    assert transport.asked == [VICTIM, VICTIM]  # type: ignore[attr-defined]
    subject_access.report(answer, "http://records.test")
    out = capsys.readouterr().out
    assert out.index("collected") < out.index("combined") < out.index("disclosed")
    assert "-> idva" in out
    assert "ok, 4 entries" in out


def test_a_broken_chain_is_said_plainly() -> None:
    said = subject_access.verdict(
        {"ok": False, "service": "notify", "entry_id": "e-9", "reason": "hash mismatch"}
    )
    assert said == "BROKEN at notify entry e-9: hash mismatch"


def test_what_is_missing_by_the_deadline_is_named() -> None:
    transport = records_service({"ok": True, "entries": 2}, pages=PAGES[:1])
    with httpx.Client(transport=transport) as client:
        answer = subject_access.ask(client, "http://records.test", VICTIM, time.monotonic())
    assert answer.missing == ["disclosed", "consulted", "consulted by an agency on its topic"]
