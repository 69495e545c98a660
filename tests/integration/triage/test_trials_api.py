"""Policy trials through triage's API (contract section 4) on the running stack: tokens and
scopes before bodies, field-by-field 422s, a trial run by the app's own job, its
summary and `changes.csv`, and an apply whose decisions reach the decisions topic."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from sqlalchemy import select

from mash_tools.testing import bearer, eventually
from shared.topics import DECISIONS, audit_topic
from tests.integration.triage.kit import STREAM_START, Stack, seed_stream
from triage import store
from triage.domain.policy import DEFAULT_POLICY

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
POLICY = bearer("triage:policy")
WHOLE = DEFAULT_POLICY.model_dump(mode="json")
TRIAL: dict[str, Any] = {
    "policy": {**WHOLE, "version": "api-12", "high_score": 12},
    "from": "2023-12-01",
    "to": "2026-11-30",
}
ID = "00000000-0000-4000-8000-000000000000"
ROUTES = [
    ("POST", "/v1/policy-trials", TRIAL),
    ("GET", f"/v1/policy-trials/{ID}", None),
    ("GET", f"/v1/policy-trials/{ID}/changes.csv", None),
    ("POST", f"/v1/policy-trials/{ID}/apply", {"redecide_since": "2026-01-01"}),
    ("GET", "/v1/policy", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), (bearer("triage:read"), 403)],
)
async def test_policy_routes_need_triage_policy(
    stack: Stack, method: str, path: str, body: Any, headers: dict[str, str], status: int
) -> None:
    answer = await stack.triage.request(
        method, path, json={"junk": 1} if body else None, headers=headers
    )
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ({**TRIAL, "from": "2026-12-01"}, ["body", "to"]),
        ({**TRIAL, "to": "2026-02-30"}, ["body", "to"]),
        ({**TRIAL, "area": "Not A Slug"}, ["body", "area"]),
        ({**TRIAL, "policy": {"version": "api-x"}}, ["body", "policy", "high_score"]),
        (
            {**TRIAL, "policy": {**WHOLE, "version": "api-y", "high_score": 40}},
            ["body", "policy", "high_score"],
        ),
        (
            {
                **TRIAL,
                "policy": {
                    **WHOLE,
                    "routes": [{"agency": "nobody", "reason": "x", "when": "level:high"}],
                },
            },
            ["body", "policy", "routes", 0, "agency"],
        ),
        (
            {**TRIAL, "policy": {**WHOLE, "version": "api-z", "extra": 1}},
            ["body", "policy", "extra"],
        ),
        ({**TRIAL, "policy": WHOLE}, ["body", "policy", "version"]),  # the version in force
        ({**TRIAL, "surplus": True}, ["body", "surplus"]),
    ],
)
async def test_a_trial_is_refused_field_by_field(
    stack: Stack, body: dict[str, Any], bad: list[Any]
) -> None:
    answer = await stack.triage.post("/v1/policy-trials", json=body, headers=POLICY)
    assert answer.status_code == 422, answer.text
    assert bad in [e["loc"] for e in answer.json()["errors"]]


async def test_unknown_trials_and_bad_applies(stack: Stack) -> None:
    assert (await stack.triage.get(f"/v1/policy-trials/{ID}", headers=POLICY)).status_code == 404
    csv_answer = await stack.triage.get(f"/v1/policy-trials/{ID}/changes.csv", headers=POLICY)
    assert csv_answer.status_code == 404
    apply = f"/v1/policy-trials/{ID}/apply"
    assert (
        await stack.triage.post(apply, json={"redecide_since": "2026-01-01"}, headers=POLICY)
    ).status_code == 404
    bad = await stack.triage.post(apply, json={"redecide_since": "soon"}, headers=POLICY)
    assert bad.status_code == 422
    assert ["body", "redecide_since"] in [e["loc"] for e in bad.json()["errors"]]
    not_an_id = await stack.triage.get("/v1/policy-trials/42", headers=POLICY)
    assert not_an_id.status_code == 422


async def staged(stack: Stack, topic: str) -> list[dict[str, Any]]:
    """The data of every event triage has staged on `topic`."""
    box = store.messages.outbox
    async with stack.triage_app.state.platform.sessions() as session:
        stmt = select(box.c.payload).where(box.c.topic == topic).order_by(box.c.id)
        return [json.loads(p) for p in (await session.execute(stmt)).scalars()]


async def published_decisions(stack: Stack, version: str) -> list[tuple[dict[str, Any], bool]]:
    """Triage's staged decisions of a policy version, each with whether the relay has
    published it to the decisions topic."""
    box = store.messages.outbox
    async with stack.triage_app.state.platform.sessions() as session:
        stmt = select(box.c.payload, box.c.published_at).where(box.c.topic == DECISIONS)
        rows = (await session.execute(stmt)).all()
    found = [(json.loads(r.payload), r.published_at is not None) for r in rows]
    return [(data, sent) for data, sent in found if data["policy_version"] == version]


async def test_a_trial_runs_reports_and_is_applied(stack: Stack) -> None:
    """One test, in order: the stack's store is shared by this module's tests."""
    given = await seed_stream(stack.triage_app.state.triage, 40, rng_seed=11)
    policy = await stack.triage.get("/v1/policy", headers=POLICY)
    assert policy.status_code == 200
    assert policy.json() == {"current": WHOLE, "history": []}

    started = await stack.triage.post("/v1/policy-trials", json=TRIAL, headers=POLICY)
    assert started.status_code == 202, started.text
    trial_id = started.json()["trial_id"]

    async def finished() -> Any:
        answer = await stack.triage.get(f"/v1/policy-trials/{trial_id}", headers=POLICY)
        return answer.json() if answer.json()["status"] != "running" else None

    trial = await eventually(finished)
    assert trial["status"] == "done"
    assert trial["policy_version"] == "api-12"
    assert trial["done"] == trial["total"] >= len(given)
    summary = trial["summary"]
    assert set(summary) == {
        "incidents",
        "changed",
        "risk_level",
        "marac_eligible",
        "referrals",
        "by_area",
    }
    assert summary["changed"] > 0

    exported = await stack.triage.get(f"/v1/policy-trials/{trial_id}/changes.csv", headers=POLICY)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == summary["changed"]
    assert set(rows[0]) == {
        "incident_id",
        "area",
        "reported_at",
        "risk_level_before",
        "risk_level_after",
        "flags_before",
        "flags_after",
        "marac_criteria_before",
        "marac_criteria_after",
        "referrals_before",
        "referrals_after",
    }
    assert "Streamperson" not in exported.text  # ids only, never a person
    consulted = [
        e
        for e in await staged(stack, audit_topic("triage"))
        if e["route"] == "/v1/policy-trials/{trial_id}/changes.csv"
    ]
    assert [(e["operation"], e["resource"], e["sub"]) for e in consulted] == [
        ("consulted", "decision", "tester")
    ]
    assert sorted(consulted[0]["ids"]) == sorted(r["incident_id"] for r in rows)

    since = (STREAM_START.replace(year=STREAM_START.year + 2)).date()
    applied = await stack.triage.post(
        f"/v1/policy-trials/{trial_id}/apply",
        json={"redecide_since": since.isoformat()},
        headers=POLICY,
    )
    assert applied.status_code == 202, applied.text
    again = await stack.triage.post(
        f"/v1/policy-trials/{trial_id}/apply", json={"redecide_since": "2026-01-01"}, headers=POLICY
    )
    assert again.status_code == 409
    policy = (await stack.triage.get("/v1/policy", headers=POLICY)).json()
    assert policy["current"]["version"] == "api-12"
    assert policy["current"]["high_score"] == 12
    assert [(h["version"], h["applied_by"]) for h in policy["history"]] == [("api-12", "tester")]

    recent = {i for i, g in given.items() if g.reported_at.date() >= since}
    assert recent

    async def all_published() -> bool:
        found = await published_decisions(stack, "api-12")
        return {d["incident_id"] for d, _ in found} == recent and all(sent for _, sent in found)

    await eventually(all_published)
    again_trial = {**TRIAL, "policy": {**TRIAL["policy"], "version": "api-13"}}
    assert (
        await stack.triage.post("/v1/policy-trials", json=again_trial, headers=POLICY)
    ).status_code == 202
    reused = {**TRIAL, "policy": {**TRIAL["policy"], "version": "api-12"}}
    refused = await stack.triage.post("/v1/policy-trials", json=reused, headers=POLICY)
    assert refused.status_code == 422
