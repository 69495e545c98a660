"""Every API read of personal data is logged as `consulted` on the service's own log topic
(contract sections 2 and 12), through the outbox and the real broker: who, which route,
which ids, never the data."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import intake.app
import intake.config
import marac.app
import marac.config
import notify.app
import notify.config
import triage.app
import triage.config
from mash_tools.testing import TEST_SECRET, TopicReader, data_of, headers_of, running, token
from shared.auth import mint
from shared.topics import audit_topic
from tests.builders import incident_body, settings_for

pytestmark = pytest.mark.kafka


def _as(sub: str, *scopes: str) -> dict[str, str]:

    return {"Authorization": f"Bearer {mint(TEST_SECRET, sub, scopes, timedelta(hours=1))}"}


async def _audit_of(topic: TopicReader, sub: str) -> dict[str, Any]:
    record = await topic.wait_for(lambda r: data_of(r)["sub"] == sub)
    assert headers_of(record)["ce_type"] == "mash.audit.consulted"
    return data_of(record)  # type: ignore[no-any-return]


async def test_reading_an_incident_is_audited_without_its_data(
    kafka_bootstrap: str, tmp_path: Path, group: str
) -> None:
    app = intake.app.create_app(
        settings_for(
            intake.config.Settings, kafka_bootstrap, f"sqlite+aiosqlite:///{tmp_path}/i.db", group
        )
    )
    body = incident_body(f"HC-AUDIT-{uuid.uuid4().hex[:10]}")
    reader = f"control-room-{uuid.uuid4().hex[:8]}"
    async with TopicReader(kafka_bootstrap, audit_topic("intake")) as topic, running(app) as client:
        posted = await client.post(
            "/v1/incidents",
            json=body,
            headers={"Authorization": f"Bearer {token('incidents:write')}"},
        )
        incident_id = posted.json()["incident_id"]
        answer = await client.get(
            f"/v1/incidents/{incident_id}", headers=_as(reader, "incidents:read")
        )
        assert answer.status_code == 200
        audit = await _audit_of(topic, reader)
        missing = await client.get(
            f"/v1/incidents/{uuid.uuid4()}", headers=_as(reader + "-2", "incidents:read")
        )
        assert missing.status_code == 404
        refused = await _audit_of(topic, reader + "-2")
    assert audit["service"] == "intake"
    assert audit["route"] == "/v1/incidents/{incident_id}"
    assert audit["ids"] == [incident_id]
    assert audit["status"] == 200
    assert audit["resource"] == "incident"
    assert refused["status"] == 404
    text = json.dumps(audit)
    for value in ("Alex", "Testperson", "1990-04-01", body["control_room_ref"]):
        assert value not in text


async def test_reading_a_decision_is_audited(
    kafka_bootstrap: str, tmp_path: Path, group: str
) -> None:
    app = triage.app.create_app(
        settings_for(
            triage.config.Settings, kafka_bootstrap, f"sqlite+aiosqlite:///{tmp_path}/t.db", group
        )
    )
    reader = f"cru-{uuid.uuid4().hex[:8]}"
    incident_id = str(uuid.uuid4())
    async with TopicReader(kafka_bootstrap, audit_topic("triage")) as topic, running(app) as client:
        answer = await client.get(
            f"/v1/decisions/{incident_id}", headers=_as(reader, "triage:read")
        )
        assert answer.status_code == 404
        audit = await _audit_of(topic, reader)
    assert (audit["service"], audit["ids"], audit["status"]) == ("triage", [incident_id], 404)


async def test_reading_a_marac_list_is_audited(
    kafka_bootstrap: str, tmp_path: Path, group: str
) -> None:
    app = marac.app.create_app(
        settings_for(
            marac.config.Settings, kafka_bootstrap, f"sqlite+aiosqlite:///{tmp_path}/m.db", group
        )
    )
    reader = f"coordinator-{uuid.uuid4().hex[:8]}"
    async with TopicReader(kafka_bootstrap, audit_topic("marac")) as topic, running(app) as client:
        meeting = await client.post(
            "/v1/meetings",
            json={"area": f"a{uuid.uuid4().hex[:6]}", "date": "2099-01-05", "capacity": 5},
            headers=_as("admin", "marac:admin"),
        )
        meeting_id = meeting.json()["meeting_id"]
        for path in (f"/v1/meetings/{meeting_id}/cases", f"/v1/meetings/{meeting_id}/cases.csv"):
            answer = await client.get(path, headers=_as(reader + path[-3:], "marac:read"))
            assert answer.status_code == 200
            audit = await _audit_of(topic, reader + path[-3:])
            assert (audit["service"], audit["resource"], audit["status"]) == (
                "marac",
                "marac_case",
                200,
            )
        waiting = await client.get(
            "/v1/cases?status=awaiting_meeting", headers=_as(reader + "w", "marac:read")
        )
        assert waiting.status_code == 200
        assert (await _audit_of(topic, reader + "w"))["route"] == "/v1/cases"


async def test_reading_an_agencys_referrals_is_audited(
    kafka_bootstrap: str, tmp_path: Path, group: str
) -> None:
    app = notify.app.create_app(
        settings_for(
            notify.config.Settings, kafka_bootstrap, f"sqlite+aiosqlite:///{tmp_path}/n.db", group
        )
    )
    reader = f"idva-{uuid.uuid4().hex[:8]}"
    async with TopicReader(kafka_bootstrap, audit_topic("notify")) as topic, running(app) as client:
        answer = await client.get(
            "/v1/referrals?agency=idva", headers=_as(reader, "referrals:read:idva")
        )
        assert answer.status_code == 200
        audit = await _audit_of(topic, reader)
    assert (audit["service"], audit["route"], audit["resource"]) == (
        "notify",
        "/v1/referrals",
        "referral",
    )
    assert audit["ids"] == [r["referral_id"] for r in answer.json()]
