"""`mash backup` copies the embedded stores while the hub takes incidents (issue 26): the
copies are valid SQLite databases holding every incident answered before the backup
began, owner-only, with a manifest; a service on PostgreSQL is pointed to its own tools.

Intake runs in-process on SQLite with the real broker; reports keep arriving, from four
concurrent clients, while the backup runs (once as a function, once as `mash backup`).
A file copy of `intake.db` would miss the newest of them: they are in its `-wal` file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import intake.app
import intake.config
from mash_tools.backup import MANIFEST, Store, backup
from mash_tools.testing import bearer, eventually, running
from shared.config import ROOT
from tests.builders import incident_body, settings_for

pytestmark = pytest.mark.kafka
WRITE = bearer("incidents:write")


class Reports:
    """Clients posting incidents without pause; the ids answered 202, in order."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.answered: list[str] = []
        self._stop = asyncio.Event()

    async def _post(self) -> None:
        while not self._stop.is_set():
            body = incident_body(f"BK-{uuid.uuid4().hex[:12]}")
            answer = await self.client.post("/v1/incidents", json=body, headers=WRITE)
            assert answer.status_code == 202, answer.text
            self.answered.append(answer.json()["incident_id"])

    @contextlib.asynccontextmanager
    async def flowing(self, clients: int = 4) -> AsyncIterator[Reports]:
        tasks = [asyncio.create_task(self._post()) for _ in range(clients)]
        try:
            yield self
        finally:
            self._stop.set()
            await asyncio.gather(*tasks)


def incidents_in(copy: Path) -> set[str]:
    """The incident ids in a copy, after checking it is a whole, self-contained database."""
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with contextlib.closing(sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        return {row[0] for row in db.execute("SELECT incident_id FROM incidents")}


def manifest_of(directory: Path, copy: Path) -> dict[str, Any]:
    manifest = directory / MANIFEST
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    [entry] = json.loads(manifest.read_text())["copies"]
    with contextlib.closing(sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)) as db:
        assert entry["pages"] == db.execute("PRAGMA page_count").fetchone()[0]
    assert (entry["service"], entry["file"]) == ("intake", "intake.db")
    found: dict[str, Any] = json.loads(manifest.read_text())
    return found


async def test_a_backup_while_incidents_arrive_holds_every_answered_one(
    kafka_bootstrap: str, group: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"  # the hub's data directory: `.data/<service>.db` of this test
    url = f"sqlite+aiosqlite:///{data / 'intake.db'}"
    app = intake.app.create_app(settings_for(intake.config.Settings, kafka_bootstrap, url, group))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env |= {"MASH_DATA_DIR": str(data), "TRIAGE_DATABASE_URL": "postgresql+asyncpg://x@127.0.0.1/t"}

    async with running(app) as client, Reports(client).flowing() as reports:
        await eventually(lambda: len(reports.answered) >= 20)
        before = set(reports.answered)
        await asyncio.to_thread(backup, tmp_path / "function", [Store("intake", url)])

        await eventually(lambda: len(reports.answered) >= len(before) + 20)
        before_cli = set(reports.answered)
        command = await asyncio.create_subprocess_exec(
            str(ROOT / ".venv" / "bin" / "mash"),
            "backup",
            str(tmp_path / "cli"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await command.communicate()
        during_cli = set(reports.answered) - before_cli
        assert command.returncode == 0, err.decode()

    # the hub kept answering while the command ran
    assert during_cli
    copy = tmp_path / "function" / "intake.db"
    assert before <= incidents_in(copy)
    manifest_of(tmp_path / "function", copy)

    copy = tmp_path / "cli" / "intake.db"
    assert before_cli <= incidents_in(copy)
    found = manifest_of(tmp_path / "cli", copy)
    assert found["postgresql"] == ["triage"]
    assert "notify" in found["absent"]  # nothing under this data directory but intake's
    assert stat.S_IMODE((tmp_path / "cli").stat().st_mode) == 0o700
    lines = out.decode().splitlines()
    assert any(line.split()[0] == "intake" and "intake.db" in line for line in lines)
    assert any(line.split()[0] == "triage" and "pg_dump" in line for line in lines)
