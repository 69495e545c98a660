"""Records' settings (prefix `RECORDS_`): how long entries are kept and how often the
retention job and the chain check run."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ENV_FILE, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RECORDS_", env_file=ENV_FILE, extra="ignore")

    port: int = 8007
    retention_days: int = Field(default=2557, ge=1)
    """How long an entry is kept (default seven years): older ones are erased, and the
    erasure is itself logged."""
    retention_interval_seconds: float = Field(default=3600, gt=0)
    """How often the retention job looks for entries past their time."""
    retention_batch: int = Field(default=5000, ge=1)
    """At most this many entries of one service erased in one transaction."""
    verify_interval_seconds: float = Field(default=300, gt=0)
    """How often every chain is verified (`mash_records_chain_broken`)."""
    partners_interval_seconds: float = Field(default=15, gt=0)
    """How often the partners' committed offsets are read and their consumption logged
    (within the contract's minute)."""
