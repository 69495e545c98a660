"""Property over the chain: whatever intake answers 202 to, triage decides (nothing accepted
is lost downstream), whatever the dates in it, and so is every later DASH it accepts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import intake.app
import intake.config
import triage.app
import triage.config
from mash_tools import testing
from tests.builders import dash_body, incident_body, settings_for

pytestmark = pytest.mark.kafka
WRITE = testing.bearer("incidents:write")
READ = testing.bearer("triage:read")
OFFSETS = [
    timezone(timedelta(hours=h, minutes=m))
    for h, m in ((0, 0), (1, 0), (-1, 0), (14, 0), (-12, 0), (5, 30))
]
EDGES = [
    datetime(1, 1, 1, 0, 30),
    datetime(1, 1, 1, 23, 59),
    datetime(1969, 12, 31, 23, 30),
    datetime(1970, 1, 1, 0, 0),
    datetime(1970, 1, 1, 0, 30),
    datetime(1971, 6, 1),
    datetime(2000, 2, 29, 12),
    datetime(9999, 12, 31, 23, 30),
]


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


moments = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.sampled_from(EDGES)
    | st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(OFFSETS),
) | st.builds(
    lambda days: datetime.now(UTC) - timedelta(days=days), st.integers(min_value=0, max_value=5000)
)
births = st.sampled_from([date(1, 1, 1), date(1899, 12, 31), date(1900, 1, 1)]) | st.dates()


@st.composite
def reports(draw: st.DrawFn) -> dict[str, Any]:
    ref = draw(st.uuids()).hex[:12]
    body = incident_body(f"HC-CHAIN-{ref}", reported_at=_rfc3339(draw(moments)))
    body["suspect"]["person_id"] = f"S{ref}"
    body["victim"]["date_of_birth"] = draw(births).isoformat()
    body["victim"]["person_id"] = f"V{ref}"
    if draw(st.booleans()):
        body["children"] = [
            {"given_name": "Jo", "family_name": "Kid", "date_of_birth": draw(births).isoformat()}
        ]
    return body


@pytest.fixture
def chain(
    kafka_bootstrap: str, tmp_path: Path, group: str
) -> Iterator[tuple[TestClient, TestClient]]:
    intake_app = intake.app.create_app(
        settings_for(
            intake.config.Settings,
            kafka_bootstrap,
            f"sqlite+aiosqlite:///{tmp_path / 'i.db'}",
            group,
        )
    )
    triage_app = triage.app.create_app(
        settings_for(
            triage.config.Settings,
            kafka_bootstrap,
            f"sqlite+aiosqlite:///{tmp_path / 't.db'}",
            group,
        )
    )
    with TestClient(triage_app) as triage_client, TestClient(intake_app) as intake_client:
        yield intake_client, triage_client


def _wait_for_decisions(triage_client: TestClient, expected: dict[str, int | None]) -> None:
    """Every accepted incident decided, with its later DASH's score when one was accepted."""
    deadline = time.monotonic() + 60
    missing = dict(expected)
    while missing and time.monotonic() < deadline:
        for incident_id, score in list(missing.items()):
            answer = triage_client.get(f"/v1/decisions/{incident_id}", headers=READ)
            assert answer.status_code in (200, 404), answer.text
            if answer.status_code == 200 and (
                score is None or answer.json()["dash_score"] == score
            ):
                del missing[incident_id]
        time.sleep(0.2)
    assert not missing, f"accepted but never decided: {sorted(missing)}"


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(reports(), min_size=15, max_size=15), yes=st.integers(0, 24))
def test_whatever_intake_accepts_triage_decides(
    chain: tuple[TestClient, TestClient], batch: list[dict[str, Any]], yes: int
) -> None:
    intake_client, triage_client = chain
    expected: dict[str, int | None] = {}
    for body in batch:
        answer = intake_client.post("/v1/incidents", json=body, headers=WRITE)
        assert answer.status_code in (202, 422), answer.text
        if answer.status_code != 202:
            continue
        incident_id = answer.json()["incident_id"]
        later = intake_client.post(
            f"/v1/incidents/{incident_id}/risk-assessments", json=dash_body(yes), headers=WRITE
        )
        assert later.status_code == 202, later.text
        expected[incident_id] = yes
    _wait_for_decisions(triage_client, expected)


def test_the_documented_bounds_hold_at_their_edges(chain: tuple[TestClient, TestClient]) -> None:
    intake_client, _ = chain
    cases = {
        "1970-01-01T00:00:00Z": 202,
        "1969-12-31T23:59:59Z": 422,
        "1970-01-01T00:30:00+01:00": 422,  # 1969 in UTC
        "0001-01-01T00:30:00+01:00": 422,
        "9999-12-31T23:30:00-01:00": 422,
    }
    for reported_at, status in cases.items():
        body = incident_body(f"HC-EDGE-{uuid.uuid4().hex[:10]}", reported_at=reported_at)
        answer = intake_client.post("/v1/incidents", json=body, headers=WRITE)
        assert answer.status_code == status, (reported_at, answer.text)
        if status == 422:
            assert [e["loc"] for e in answer.json()["errors"]] == [["body", "reported_at"]]
    for born, status in {"1900-01-01": 202, "1899-12-31": 422, "0001-01-01": 422}.items():
        body = incident_body(f"HC-EDGE-{uuid.uuid4().hex[:10]}")
        body["victim"]["date_of_birth"] = born
        answer = intake_client.post("/v1/incidents", json=body, headers=WRITE)
        assert answer.status_code == status, (born, answer.text)
