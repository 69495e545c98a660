"""Notify's composition root."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from notify import api, store
from notify.config import Settings
from notify.consumer import consumers
from shared.service import Platform
from shared.service import create_app as build

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, exporters: Sequence[SpanExporter] = ()) -> FastAPI:
    """Notify: referrals to partner agencies, minimised per agency, delivered and acknowledged."""
    platform = Platform("notify", settings or Settings(), store.platform, MIGRATIONS, exporters)
    return build(
        platform,
        title="MASH notify",
        description="Notify: referrals to partner agencies, minimised per agency, delivered "
        "and acknowledged.",
        routers=[api.router],
        consumers=consumers(),
    )
