"""What intake's integration tests drive: a running intake (`Intake`, started by
conftest's `intake_service`) and the rows it has written."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from intake import store
from shared.topics import INCIDENTS, INTAKE_EQUALITY, audit_topic


@dataclass
class Intake:
    app: FastAPI
    client: httpx.AsyncClient

    async def count(self, table: str) -> int:
        """Rows of a table; `outbox`: the events for `mash.incidents.v1` (its log entries,
        contract section 12, are `log`; the equality monitoring given for marac, on
        `mash.intake.equality.v1`, is `equality`)."""
        outbox = store.messages.outbox
        tables = {
            "incidents": select(func.count()).select_from(store.incidents),
            "outbox": select(func.count()).where(outbox.c.topic == INCIDENTS),
            "log": select(func.count()).where(outbox.c.topic == audit_topic("intake")),
            "equality": select(func.count()).where(outbox.c.topic == INTAKE_EQUALITY),
            "risk_assessments": select(func.count()).select_from(store.risk_assessments),
        }
        async with self.app.state.platform.sessions() as session:
            return int((await session.execute(tables[table])).scalar_one())
