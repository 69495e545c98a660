"""Intake's settings (prefix `INTAKE_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import ENV_FILE, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", env_file=ENV_FILE, extra="ignore")

    port: int = 8001
    clock_skew_seconds: int = 300
    """How far in the future a `reported_at` may be (control-room clocks drift)."""
