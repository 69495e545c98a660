"""Notify's settings (prefix `NOTIFY_`): delivery policy, school hours, review window."""

from __future__ import annotations

from datetime import time

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from notify.sealing import SecretBox
from shared.config import ENV_FILE, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", env_file=ENV_FILE, extra="ignore")

    port: int = 8003
    webhook_secrets_key: str = ""
    """Key material sealing the subscriptions' secrets at rest (default: derived from
    `MASH_PSEUDONYM_KEY`). Changing it makes stored secrets unreadable: PUT them again."""
    source: str = "/mash/notify"
    """`ce_source` of what notify emits, on Kafka and in webhook headers."""

    delivery_max_attempts: int = Field(default=8, ge=5, le=50)
    """Webhook attempts before a delivery is `dead` (the contract asks for at least 5)."""
    delivery_retry_base_seconds: float = Field(default=0.5, gt=0, le=1)
    """The first retry's delay (before jitter); each further retry doubles it."""
    delivery_retry_max_seconds: float = Field(default=300, gt=0)
    """The longest wait between two attempts."""
    delivery_timeout_seconds: float = Field(default=10, gt=0)
    """How long one webhook POST may take (connect, send and answer)."""
    delivery_poll_seconds: float = Field(default=0.5, gt=0)
    """How often each agency's delivery loop looks for deliveries that have fallen due."""

    school_timezone: str = "Europe/London"
    school_day_start: time = time(8, 30)
    """Operation Encompass: a school hears before its school day starts (Mon-Fri)."""
    school_release_time: time = time(7, 0)
    """When held school notices are released on the school day (local time)."""
    review_due_hours: int = Field(default=24, gt=0)
    """The safeguarding team reviews a high-risk referral within this many hours."""

    def secret_box(self) -> SecretBox:
        """What seals and unseals the webhook secrets."""
        return SecretBox(self.webhook_secrets_key or self.platform.pseudonym_key)
