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
from tests.builders import settings_for


@dataclass
class Intake:
    app: FastAPI
    client: httpx.AsyncClient

    async def count(self, table: str) -> int:
        tables = {
            "incidents": store.incidents,
            "outbox": store.platform.outbox,
            "risk_assessments": store.risk_assessments,
        }
        async with self.app.state.platform.sessions() as session:
            return int(
                (
                    await session.execute(select(func.count()).select_from(tables[table]))
                ).scalar_one()
            )


@pytest.fixture
async def intake_service(
    kafka_bootstrap: str, database_url: str, group: str
) -> AsyncIterator[Intake]:
    app = intake.app.create_app(
        settings_for(intake.config.Settings, kafka_bootstrap, database_url, group)
    )
    async with running(app) as client:
        yield Intake(app, client)
