"""Webhook delivery rules: answers, retries with backoff, giving up, the signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from notify.domain.delivery import (
    Answer,
    DeliveryPolicy,
    Status,
    Verdict,
    after_attempt,
    backoff,
    signature,
    verdict_for_status,
)

POLICY = DeliveryPolicy(schedule=(0.5, 5, 60, 3600))  # 5 attempts
DEFAULT = DeliveryPolicy()
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (201, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (504, Verdict.RETRY),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (400, Verdict.DEAD),
        (401, Verdict.DEAD),
        (403, Verdict.DEAD),
        (404, Verdict.DEAD),
        (410, Verdict.DEAD),
        (422, Verdict.DEAD),
        (301, Verdict.DEAD),
    ],
)
def test_what_an_answer_means(status: int, verdict: Verdict) -> None:
    assert verdict_for_status(status) is verdict


@pytest.mark.parametrize("jitter", [0.0, 0.5, 1.0])
def test_the_first_retry_comes_within_a_second(jitter: float) -> None:
    assert backoff(1, DEFAULT, jitter) <= timedelta(seconds=1)


def test_the_default_schedule_goes_from_seconds_to_minutes_to_hours() -> None:
    waits = [backoff(n, DEFAULT, 0.0) for n in range(1, DEFAULT.max_attempts)]
    assert waits == sorted(waits)
    assert waits[1] <= timedelta(seconds=10)  # seconds
    assert any(timedelta(minutes=1) <= w < timedelta(hours=1) for w in waits)  # minutes
    assert waits[-1] >= timedelta(hours=4)  # hours


@pytest.mark.parametrize("jitter", [0.0, 0.3, 1.0])
def test_the_default_schedule_retries_for_at_least_24_hours_whatever_the_jitter(
    jitter: float,
) -> None:
    """Walk the schedule with an injected clock: the delivery is dead only after 24 h."""
    now, attempts = NOW, 1  # the first attempt fails at NOW
    after = after_attempt(Verdict.RETRY, attempts, DEFAULT, now, jitter)
    while after.status is Status.FAILED:
        assert after.due_at is not None
        now, attempts = after.due_at, attempts + 1
        after = after_attempt(Verdict.RETRY, attempts, DEFAULT, now, jitter)
    assert after.status is Status.DEAD
    assert now - NOW >= timedelta(hours=24)
    assert attempts == DEFAULT.max_attempts


@pytest.mark.parametrize(("jitter", "seconds"), [(0.0, 60.0), (0.5, 66.0), (1.0, 72.0)])
def test_jitter_only_lengthens_a_wait(jitter: float, seconds: float) -> None:
    assert backoff(3, POLICY, jitter).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("verdict", "attempts", "status", "retries"),
    [
        (Verdict.DELIVERED, 1, Status.DELIVERED, False),
        (Verdict.DELIVERED, 5, Status.DELIVERED, False),
        (Verdict.RETRY, 1, Status.FAILED, True),
        (Verdict.RETRY, 4, Status.FAILED, True),
        (Verdict.RETRY, 5, Status.DEAD, False),
        (Verdict.DEAD, 1, Status.DEAD, False),
    ],
)
def test_state_after_an_attempt(
    verdict: Answer, attempts: int, status: Status, retries: bool
) -> None:
    after = after_attempt(verdict, attempts, POLICY, NOW, 0.0)
    assert after.status is status
    assert (after.due_at is not None) is retries
    if after.due_at is not None:
        assert after.due_at == NOW + backoff(attempts, POLICY, 0.0)


def test_signature_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"referral_id":"x"}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature("s3cret", body) == f"sha256={expected}"
    assert signature("other", body) != signature("s3cret", body)
