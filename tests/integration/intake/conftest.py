"""A running intake service on a fresh database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import intake.app
import intake.config
from mash_tools.testing import running
from tests.builders import settings_for
from tests.integration.intake.kit import Intake


@pytest.fixture
async def intake_service(
    kafka_bootstrap: str, database_url: str, group: str
) -> AsyncIterator[Intake]:
    app = intake.app.create_app(
        settings_for(intake.config.Settings, kafka_bootstrap, database_url, group)
    )
    async with running(app) as client:
        yield Intake(app, client)
