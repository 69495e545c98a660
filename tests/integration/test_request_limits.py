"""Request limits every service applies before its application: auth before the body,
strict JSON (no duplicated keys), headers over 64 KiB refused with 431."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mash_tools.testing import token
from tests.integration.test_security import apps, v1_calls

BODIES = {
    "malformed": b'{"control_room_ref": ',
    "duplicated key": b'{"a": 1, "a": 2}',
    "not JSON at all": b"\x00\xff<xml/>",
    "NaN": b'{"a": NaN}',
}


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s")


@pytest.mark.parametrize("body", BODIES)
async def test_a_bad_body_without_a_token_answers_401(tmp_path: Path, body: str) -> None:
    for app in apps(tmp_path):
        async with _client(app) as client:
            for method, path in v1_calls(app):
                answer = await client.request(
                    method, path, content=BODIES[body], headers={"content-type": "application/json"}
                )
                assert answer.status_code == 401, (method, path, answer.text)


@pytest.mark.parametrize("body", BODIES)
async def test_a_bad_body_with_a_token_lacking_the_scope_answers_403(
    tmp_path: Path, body: str
) -> None:
    headers = {
        "Authorization": f"Bearer {token('nothing:useful')}",
        "content-type": "application/json",
    }
    for app in apps(tmp_path):
        async with _client(app) as client:
            for method, path in v1_calls(app):
                answer = await client.request(method, path, content=BODIES[body], headers=headers)
                assert answer.status_code == 403, (method, path, answer.text)


def _example_incident() -> dict[str, object]:
    root = Path(__file__).resolve().parents[2]
    return json.loads((root / "deploy" / "example-incident.json").read_text())  # type: ignore[no-any-return]


def _with_duplicate(body: dict[str, object], path: list[str], key: str, first: object) -> bytes:
    """The body as JSON text, with `key` of the object at `path` written twice."""
    text = json.dumps(body)
    target: object = body
    for step in path:
        target = target[step]  # type: ignore[index]
    inner = json.dumps(target)
    doubled = inner[:1] + json.dumps(key) + ": " + json.dumps(first) + ", " + inner[1:]
    return text.replace(inner, doubled, 1).encode()


async def test_a_duplicated_key_anywhere_is_422_and_nothing_is_accepted(tmp_path: Path) -> None:
    intake_app = apps(tmp_path)[0]
    body = _example_incident()
    body["victim"]["contact"]["safe_to_contact"] = True  # type: ignore[index]
    raw = _with_duplicate(body, ["victim", "contact"], "safe_to_contact", False)
    assert raw.count(b'"safe_to_contact"') == 2
    headers = {
        "Authorization": f"Bearer {token('incidents:write')}",
        "content-type": "application/json",
    }
    async with _client(intake_app) as client:
        answer = await client.post("/v1/incidents", content=raw, headers=headers)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["errors"] == [{"loc": ["body"], "msg": problem["errors"][0]["msg"]}]
    assert "safe_to_contact" in problem["errors"][0]["msg"]
    assert answer.headers["content-type"] == "application/problem+json"


async def test_headers_over_64_kib_answer_431_before_the_app(tmp_path: Path) -> None:
    for app in apps(tmp_path):
        async with _client(app) as client:
            big = {"x-filler": "a" * (64 * 1024)}
            answer = await client.get("/healthz", headers=big)
            assert answer.status_code == 431, answer.text
            assert answer.json()["status"] == 431
            # just under the limit still reaches the app
            fine = await client.get("/healthz", headers={"x-filler": "a" * (60 * 1024)})
            assert fine.status_code == 200


HOSTILE_REQUESTS = [
    # (service index in apps(), method, path, scope, body, bad field)
    (
        1,
        "POST",
        "/v1/incidents/00000000-0000-4000-8000-000000000001/regrade",
        "triage:regrade",
        {"risk_level": "high", "reason": "threats\x00", "by": "DS 1"},
        "reason",
    ),
    (
        1,
        "POST",
        "/v1/incidents/00000000-0000-4000-8000-000000000001/regrade",
        "triage:regrade",
        {"risk_level": "high", "reason": "threats", "by": "\u200b\u200b"},
        "by",
    ),
    (
        1,
        "POST",
        "/v1/incidents/00000000-0000-4000-8000-000000000001/regrade",
        "triage:regrade",
        {"risk_level": "high", "reason": "threats", "by": "DS \u202e1"},
        "by",
    ),
    (
        2,
        "PUT",
        "/v1/subscriptions/idva",
        "subscriptions:write:idva",
        {"webhook_url": "https://idva.example.org/hook", "secret": "s3cret\x00"},
        "secret",
    ),
]


@pytest.mark.parametrize(("index", "method", "path", "scope", "body", "field"), HOSTILE_REQUESTS)
async def test_hostile_free_text_is_refused_field_by_field(
    tmp_path: Path,
    index: int,
    method: str,
    path: str,
    scope: str,
    body: dict[str, str],
    field: str,
) -> None:
    app = apps(tmp_path)[index]
    async with _client(app) as client:
        answer = await client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token(scope)}"}
        )
    assert answer.status_code == 422, answer.text
    assert [e["loc"] for e in answer.json()["errors"]] == [["body", field]]
