"""The running stack for triage's broker tests: intake and triage in-process, triage's
database once on SQLite and once on PostgreSQL (one start per module and database)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import intake.app
import intake.config
import triage.app
import triage.config
from mash_tools.testing import create_database, running
from tests.builders import settings_for
from tests.integration.triage.kit import Stack


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
