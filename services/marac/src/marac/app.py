"""Marac's composition root."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from marac import api, store
from marac.config import Settings
from marac.consumer import consumers
from shared.service import Platform
from shared.service import create_app as build

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, exporters: Sequence[SpanExporter] = ()) -> FastAPI:
    """MARAC: meeting lists of high-risk victims per area."""
    platform = Platform("marac", settings or Settings(), store.platform, MIGRATIONS, exporters)
    return build(
        platform,
        title="MASH marac",
        description="MARAC: meeting lists of high-risk victims per area.",
        routers=[api.router],
        consumers=consumers(),
    )
