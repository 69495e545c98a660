"""Marac's settings (prefix `MARAC_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import ENV_FILE, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MARAC_", env_file=ENV_FILE, extra="ignore")

    port: int = 8004
