"""Records' composition root."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from records import api, review_api, store
from records.config import Settings
from records.consumer import consumers
from records.handlers import Records
from records.jobs import ChainCheck, Retention
from records.partners import PartnerConsumption
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
    """Records: every service's log of processing, kept, chained and answerable."""
    settings = settings or Settings()
    platform = Platform("records", settings, store.messages, MIGRATIONS, exporters)
    records = Records.on(platform)
    partners = PartnerConsumption[Settings](
        store.partner_offsets, settings.partners_interval_seconds, clock=clock
    )
    jobs = (Retention(records, clock), ChainCheck(records), partners)

    async def start(platform: Platform[Settings]) -> None:
        for job in jobs:
            await job.start(platform)

    async def stop(platform: Platform[Settings]) -> None:
        for job in jobs:
            await job.stop(platform)

    app = build(
        platform,
        title="MASH records",
        description="Records of processing (DPA 2018 Part 3, s.62; contract section 12): "
        "every service's log of collection, alteration, consultation, disclosure, "
        "combination and erasure, kept once, chained by SHA-256 per service, never "
        "updated, and answerable to the data protection officer.",
        routers=[api.router, review_api.router],
        consumers=consumers(records, clock),
        extra_start=start,
        extra_stop=stop,
    )
    app.state.records = records
    app.state.retention, app.state.chain_check, app.state.partners = jobs
    return app
