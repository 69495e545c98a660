"""The running stack for triage's broker tests: intake and triage in-process, triage's
database once on SQLite and once on PostgreSQL (one start per module and database)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

import intake.app
import intake.config
import triage.app
import triage.config
from mash_tools.testing import bearer, create_database, running
from tests.builders import incident_body, settings_for
from triage import store

NOW = datetime.now(UTC)


@dataclass
class Stack:
    bootstrap: str
    intake: httpx.AsyncClient
    triage: httpx.AsyncClient
    triage_app: FastAPI

    async def report(self, victim: dict[str, Any], days_ago: float, **extra: Any) -> str:
        """Post an incident to intake; its id."""
        at = (NOW - timedelta(days=days_ago)).isoformat()
        body = incident_body(f"HC-{uuid.uuid4().hex[:16]}", reported_at=at, victim=victim, **extra)
        answer = await self.intake.post(
            "/v1/incidents", json=body, headers=bearer("incidents:write")
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["incident_id"])

    async def received(self, event_id: str) -> bool:
        """Whether triage has processed this event."""
        async with self.triage_app.state.platform.sessions() as session:
            stmt = select(store.platform.inbox).where(store.platform.inbox.c.event_id == event_id)
            return (await session.execute(stmt)).first() is not None


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """Intake and triage, started once per database for this module's tests."""
    folder: Path = tmp_path_factory.mktemp("triage-pipeline")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'triage.db'}"
    else:
        url = await create_database(request.getfixturevalue("postgres_server"))
    group = f"pipeline-{uuid.uuid4().hex[:8]}"
    intake_url = f"sqlite+aiosqlite:///{folder / 'intake.db'}"
    intake_app = intake.app.create_app(
        settings_for(intake.config.Settings, kafka_bootstrap, intake_url, group)
    )
    triage_app = triage.app.create_app(
        settings_for(triage.config.Settings, kafka_bootstrap, url, group)
    )
    async with running(triage_app) as triage_client, running(intake_app) as intake_client:
        yield Stack(kafka_bootstrap, intake_client, triage_client, triage_app)
