"""Notify's composition root."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from notify import api, store
from notify.config import Settings
from notify.consumer import consumers
from notify.handlers import Notify
from notify.jobs import DeliveryWorker
from shared.service import Platform
from shared.service import create_app as build

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, exporters: Sequence[SpanExporter] = ()) -> FastAPI:
    """Notify: referrals to partner agencies, minimised per agency, delivered and acknowledged."""
    settings = settings or Settings()
    platform = Platform("notify", settings, store.platform, MIGRATIONS, exporters)
    notify = Notify.on(platform)
    worker = DeliveryWorker(platform, notify.metrics)
    app = build(
        platform,
        title="MASH notify",
        description="Notify: referrals to partner agencies, minimised per agency, delivered "
        "and acknowledged. Each agency's referrals are on `mash.referrals.<agency>.v1` and, "
        "for an agency that subscribes, POSTed to its webhook, signed.",
        routers=[api.router],
        consumers=consumers(notify),
        extra_start=worker.start,
        extra_stop=worker.stop,
    )
    app.state.delivery_worker = worker
    return app
