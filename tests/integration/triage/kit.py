"""Builders for triage's integration tests: a storage-only triage, events and people."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

from mash_tools.testing import TEST_PSEUDONYM_KEY, data_of, headers_of, platform_settings
from shared.envelope import CloudEvent
from shared.identity import keyed_identities
from shared.service import Platform
from shared.topics import INCIDENT_REPORTED, MARAC_CASE_LISTED, RISK_ASSESSMENT_SUBMITTED
from tests.builders import dash_body, incident_body
from triage import store
from triage.app import MIGRATIONS
from triage.config import Settings
from triage.handlers import Triage


@asynccontextmanager
async def storage_only(database_url: str) -> AsyncIterator[Triage]:
    """Triage's handlers on a migrated database, without Kafka (events are handed in)."""
    settings = Settings(database_url=database_url, platform=platform_settings("127.0.0.1:9"))
    platform = Platform("triage", settings, store.platform, MIGRATIONS)
    await platform.start_storage()
    try:
        yield Triage.on(platform)
    finally:
        await platform.engine.dispose()


def unique_victim(**overrides: Any) -> dict[str, Any]:
    """A synthetic victim nobody else's test uses."""
    token = uuid.uuid4().hex[:12]
    return {
        "person_id": f"T{token}",
        "given_name": f"Vic{token}",
        "family_name": "Testperson",
        "date_of_birth": "1990-04-01",
        **overrides,
    }


def reported_event(reported_at: datetime, victim: dict[str, Any], **overrides: Any) -> CloudEvent:
    """A `mash.incident.reported` event as intake would publish it."""
    incident_id = uuid.uuid4()
    body = incident_body(
        f"HC-{incident_id.hex[:12]}",
        reported_at=reported_at.isoformat(),
        victim=victim,
        **overrides,
    )
    data = {**body, "incident_id": str(incident_id), "received_at": reported_at.isoformat()}
    return CloudEvent(str(uuid.uuid4()), "/mash/intake", INCIDENT_REPORTED, str(incident_id), data)


def dash_event(incident_id: str, yes: int, judgement: str | None = None) -> CloudEvent:
    """A `mash.risk_assessment.submitted` event for a known incident."""
    data = {
        **dash_body(yes, judgement),
        "incident_id": incident_id,
        "submitted_at": datetime.now(UTC).isoformat(),
    }
    return CloudEvent(
        str(uuid.uuid4()), "/mash/intake", RISK_ASSESSMENT_SUBMITTED, incident_id, data
    )


def listed_keys(victim: dict[str, Any]) -> dict[str, str | None]:
    """The victim's keys as marac publishes them (the shared rule, with the test key)."""
    born = victim.get("date_of_birth")
    by_id, by_names = keyed_identities(
        TEST_PSEUDONYM_KEY,
        victim.get("person_id"),
        victim["given_name"],
        victim["family_name"],
        date.fromisoformat(born) if born else None,
    )
    return {"person_id": by_id, "names_dob": by_names}


def listing_event(
    victim: dict[str, Any], listed_at: datetime, incident_ids: list[str] | None = None
) -> CloudEvent:
    """A `mash.marac.case_listed` event as marac would publish it."""
    case_id = uuid.uuid4()
    listed = incident_ids or [str(uuid.uuid4())]
    data: dict[str, Any] = {
        "case_id": str(case_id),
        "meeting_id": str(uuid.uuid4()),
        "meeting_date": listed_at.date().isoformat(),
        "area": "southampton",
        "incident_ids": listed,
        "criteria": ["visible_high_risk"],
        "risk_level": "high",
        "dash_score": 15,
        "repeat": False,
        "priority": 50,
        "victim_keys": listed_keys(victim),
        "children_count": 0,
        "listed_at": listed_at.isoformat(),
    }
    return CloudEvent(str(uuid.uuid4()), "/mash/marac", MARAC_CASE_LISTED, listed[0], data)


def decision_for(incident_id: str, **expected: Any) -> Any:
    """A match for the decision record on an incident whose data has the `expected` values."""

    def match(record: Any) -> bool:
        if headers_of(record).get("ce_subject") != incident_id:
            return False
        data = data_of(record)
        return all(data.get(k) == v for k, v in expected.items())

    return match


def without_dip(flags: list[str]) -> list[str]:
    return [f for f in flags if f != "dip_sample"]
