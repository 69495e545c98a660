"""Perpetrators' composition root."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from perpetrators import api, store
from perpetrators.config import Settings
from perpetrators.consumer import consumers
from perpetrators.jobs import DailyRescore
from shared.service import Platform
from shared.service import create_app as build

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None,
    exporters: Sequence[SpanExporter] = (),
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """Perpetrators: the priority perpetrator list of each area, kept live."""
    settings = settings or Settings()
    platform = Platform("perpetrators", settings, store.messages, MIGRATIONS, exporters)
    rescore = DailyRescore(settings.rescore_interval_seconds, clock)
    app = build(
        platform,
        title="MASH perpetrators",
        description="Priority perpetrator identification (Project Foundation, HMIC "
        "recommendation 5): each perpetrator's recency-frequency-gravity score, kept live "
        "under a partner agency's versioned policy, and each area's priority cohort for its "
        "neighbourhood team. No victim is ever identified.",
        routers=[api.router],
        consumers=consumers(platform, clock),
        extra_start=rescore.start,
        extra_stop=rescore.stop,
    )
    app.state.rescore = rescore
    return app
