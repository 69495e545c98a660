"""Notify's settings (prefix `NOTIFY_`): delivery policy, school hours, review window."""

from __future__ import annotations

from datetime import time

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from notify.domain.delivery import AT_LEAST, DEFAULT_SCHEDULE, DeliveryPolicy
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

    delivery_retry_schedule: tuple[float, ...] = Field(default=DEFAULT_SCHEDULE, min_length=4)
    """Seconds to wait after each failed attempt (JSON list); one more attempt than waits.
    The default spans 31.7 hours; in production it must span at least 24 hours."""
    delivery_retry_jitter: float = Field(default=0.2, ge=0, le=1)
    """Each wait is lengthened by up to this share of it."""
    delivery_timeout_seconds: float = Field(default=10, gt=0)
    """How long one webhook POST may take (connect, send and answer)."""
    delivery_poll_seconds: float = Field(default=0.5, gt=0)
    """How often each agency's delivery loop looks for deliveries that have fallen due."""
    webhook_allow_loopback: bool | None = None
    """Allow webhooks to loopback (127.0.0.0/8, ::1), and over http:// there only: for
    `make run` and the test suite. Default: true in development and test, false in
    production."""
    clock_poll_seconds: float = Field(default=15, gt=0)
    """How often the clock job looks for referrals that became overdue."""

    school_timezone: str = "Europe/London"
    school_day_start: time = time(8, 30)
    """Operation Encompass: a school hears before its school day starts (Mon-Fri)."""
    school_release_time: time = time(7, 0)
    """When held school notices are released on the school day (local time)."""
    review_due_hours: int = Field(default=24, gt=0)
    """The safeguarding team reviews a high-risk referral within this many hours."""

    @model_validator(mode="after")
    def _retries_span_a_day_in_production(self) -> Settings:
        waits = self.delivery_retry_schedule
        if any(w <= 0 for w in waits) or waits[0] > 1:
            raise ValueError("retry waits must be positive, the first at most 1 s")
        if self.hub.env == "production" and self.delivery_policy().span() < AT_LEAST:
            raise ValueError("NOTIFY_DELIVERY_RETRY_SCHEDULE must span at least 24 hours")
        return self

    @property
    def allows_loopback(self) -> bool:
        if self.webhook_allow_loopback is None:
            return self.hub.env in ("development", "test")
        return self.webhook_allow_loopback

    def delivery_policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(self.delivery_retry_schedule, self.delivery_retry_jitter)

    def secret_box(self) -> SecretBox:
        """What seals and unseals the webhook secrets."""
        return SecretBox(self.webhook_secrets_key or self.hub.pseudonym_key)
