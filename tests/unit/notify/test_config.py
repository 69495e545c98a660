"""Notify's settings: production keeps retrying for a day and never allows loopback."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from notify.config import Settings
from shared.config import HubSettings


def _settings(env: str, **extra: Any) -> Settings:
    platform = HubSettings(env=env, jwks_url="https://idp.example/k", pseudonym_key="p" * 32)
    return Settings(hub=platform, **extra)


def test_production_refuses_a_retry_schedule_shorter_than_a_day() -> None:
    with pytest.raises(ValidationError, match="24 hours"):
        _settings("production", delivery_retry_schedule=(0.5, 60, 3600, 3600))
    assert _settings("production").delivery_policy().span().total_seconds() >= 24 * 3600


def test_the_first_retry_must_come_within_a_second() -> None:
    with pytest.raises(ValidationError):
        _settings("test", delivery_retry_schedule=(5, 60, 3600, 3600))


@pytest.mark.parametrize(
    ("env", "allowed"), [("development", True), ("test", True), ("production", False)]
)
def test_loopback_webhooks_by_environment(env: str, allowed: bool) -> None:
    assert _settings(env).allows_loopback is allowed
    assert _settings(env, webhook_allow_loopback=False).allows_loopback is False
