"""Triage's settings (prefix `TRIAGE_`), the policy among them.

The policy is set as one JSON value (`TRIAGE_POLICY='{"version": "hants-2", ...}'`) or
field by field (`TRIAGE_POLICY__DIP_SAMPLE_SHARE=0.2`); whoever changes a value changes
`version` too, since every decision records it.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ENV_FILE, ServiceSettings
from triage.domain.policy import DEFAULT_POLICY, TriagePolicy


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRIAGE_", env_file=ENV_FILE, extra="ignore", env_nested_delimiter="__"
    )

    port: int = 8002
    policy: TriagePolicy = Field(default=DEFAULT_POLICY, description="thresholds, windows, routing")
    trial_interval_seconds: float = Field(
        default=1.0, gt=0, description="how often the policy-trial job looks for work"
    )
    trial_batch: int = Field(default=500, ge=1, le=5000, description="incidents a trial step")
