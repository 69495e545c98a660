"""Perpetrators' settings (prefix `PERPETRATORS_`): the scoring policy and how often
every score is recomputed."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from perpetrators.domain.policy import Policy
from shared.config import ENV_FILE, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PERPETRATORS_", env_file=ENV_FILE, extra="ignore", env_nested_delimiter="__"
    )

    port: int = 8006
    policy: Policy = Field(default_factory=Policy)
    """The scoring policy, as JSON in `PERPETRATORS_POLICY` or field by field
    (`PERPETRATORS_POLICY__OWNER="..."`, `PERPETRATORS_POLICY__VERSION=...`)."""
    rescore_interval_seconds: float = Field(default=86400, gt=0)
    """How often every score is recomputed (recency decays with time): daily."""
