"""Triage's composition root."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from shared.service import Platform
from shared.service import create_app as build
from triage import api, store
from triage.config import Settings
from triage.consumer import consumers
from triage.handlers import Triage
from triage.jobs import PolicyTrials

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, exporters: Sequence[SpanExporter] = ()) -> FastAPI:
    """Triage: risk assessment, flags, MARAC eligibility and referral decisions."""
    settings = settings or Settings()
    platform = Platform("triage", settings, store.messages, MIGRATIONS, exporters)
    triage = Triage.on(platform)
    trials = PolicyTrials(
        triage, settings.trial_interval_seconds, settings.trial_batch, lambda: datetime.now(UTC)
    )
    app = build(
        platform,
        title="MASH triage",
        description="The central referral unit in software: for every incident and every "
        "later DASH, the risk level, flags, MARAC eligibility and referrals, published on "
        "mash.triage.decisions.v1.",
        routers=[api.router],
        consumers=consumers(triage),
        extra_start=trials.start,
        extra_stop=trials.stop,
    )
    app.state.triage = triage
    app.state.trials = trials
    return app
