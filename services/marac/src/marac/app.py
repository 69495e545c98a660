"""Marac's composition root."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from marac import api, store
from marac.config import Settings
from marac.consumer import consumers
from marac.jobs import ActionClock, ScheduleKeeper
from shared.service import Platform
from shared.service import create_app as build

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, exporters: Sequence[SpanExporter] = ()) -> FastAPI:
    """MARAC: meeting lists of high-risk victims per area."""
    settings = settings or Settings()
    platform = Platform("marac", settings, store.messages, MIGRATIONS, exporters)
    keeper = ScheduleKeeper(settings.schedule_interval_seconds)
    clock = ActionClock(settings.action_clock_interval_seconds)

    async def start(platform: Platform[Settings]) -> None:
        await keeper.start(platform)
        await clock.start(platform)

    async def stop(platform: Platform[Settings]) -> None:
        await clock.stop(platform)
        await keeper.stop(platform)

    return build(
        platform,
        title="MASH marac",
        description="MARAC: each area's meetings and their lists of high-risk victims, in "
        "SafeLives' agenda order, never over capacity and with no victim twice.",
        routers=[api.router],
        consumers=consumers(platform),
        extra_start=start,
        extra_stop=stop,
    )
