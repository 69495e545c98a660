"""A running intake service on a fresh database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

import intake.app
import intake.config
from intake import store
from mash_tools.testing import running
from shared.topics import INCIDENTS, audit_topic
from tests.builders import settings_for


@dataclass
class Intake:
    app: FastAPI
    client: httpx.AsyncClient

    async def count(self, table: str) -> int:
        """Rows of a table; `outbox`: the events for `mash.incidents.v1` (its log entries,
        contract section 12, are `log`)."""
        outbox = store.platform.outbox
        tables = {
            "incidents": select(func.count()).select_from(store.incidents),
            "outbox": select(func.count()).where(outbox.c.topic == INCIDENTS),
            "log": select(func.count()).where(outbox.c.topic == audit_topic("intake")),
            "risk_assessments": select(func.count()).select_from(store.risk_assessments),
        }
        async with self.app.state.platform.sessions() as session:
            return int((await session.execute(tables[table])).scalar_one())


@pytest.fixture
async def intake_service(
    kafka_bootstrap: str, database_url: str, group: str
) -> AsyncIterator[Intake]:
    app = intake.app.create_app(
        settings_for(intake.config.Settings, kafka_bootstrap, database_url, group)
    )
    async with running(app) as client:
        yield Intake(app, client)
