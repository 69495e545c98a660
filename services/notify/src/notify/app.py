"""Notify's composition root."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from notify import api, store
from notify.config import Settings
from notify.consumer import consumers
from notify.handlers import Notify
from notify.jobs import ClockKeeper, DeliveryWorker
from notify.webhooks import Resolver
from shared.service import Platform
from shared.service import create_app as build

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(
    settings: Settings | None = None,
    exporters: Sequence[SpanExporter] = (),
    *,
    clock: Callable[[], datetime] | None = None,
    resolver: Resolver | None = None,
) -> FastAPI:
    """Notify: referrals to partner agencies, minimised per agency, delivered and
    acknowledged. `clock` and `resolver` replace the system's (tests)."""
    settings = settings or Settings()
    platform = Platform("notify", settings, store.messages, MIGRATIONS, exporters)
    notify = Notify.on(platform, clock, resolver)
    worker = DeliveryWorker(notify)
    keeper = ClockKeeper(notify)

    async def start(_: object) -> None:
        await worker.start()
        await keeper.start()

    async def stop(_: object) -> None:
        await keeper.stop()
        await worker.stop()

    app = build(
        platform,
        title="MASH notify",
        description="Notify: referrals to partner agencies, minimised per agency, delivered "
        "and acknowledged. Each agency's referrals are on `mash.referrals.<agency>.v1` and, "
        "for an agency that subscribes, POSTed to its webhook, signed.",
        routers=[api.router],
        consumers=consumers(notify),
        extra_start=start,
        extra_stop=stop,
    )
    app.state.notify = notify
    app.state.delivery_worker = worker
    app.state.clock_keeper = keeper
    return app
