"""Triage's composition root."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from shared.service import Platform
from shared.service import create_app as build
from triage import api, store
from triage.config import Settings
from triage.consumer import consumers

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, exporters: Sequence[SpanExporter] = ()) -> FastAPI:
    """Triage: risk assessment, flags, MARAC eligibility and referral decisions."""
    platform = Platform("triage", settings or Settings(), store.platform, MIGRATIONS, exporters)
    return build(
        platform,
        title="MASH triage",
        description="Triage: risk assessment, flags, MARAC eligibility and referral decisions.",
        routers=[api.router],
        consumers=consumers(),
    )
