"""Intake's composition root."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from intake import api, store
from intake.config import Settings
from intake.consumer import consumers
from shared.service import Platform
from shared.service import create_app as build

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, exporters: Sequence[SpanExporter] = ()) -> FastAPI:
    """The intake service: the control room's front door."""
    platform = Platform("intake", settings or Settings(), store.messages, MIGRATIONS, exporters)
    return build(
        platform,
        title="MASH intake",
        description="The control room's front door: domestic abuse incidents and DASH risk "
        "assessments, committed before they are acknowledged and published to Kafka.",
        routers=[api.router],
        consumers=consumers(),
    )
