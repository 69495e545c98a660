"""Webhook delivery rules: what an answer means, when to try again, how a body is signed."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Verdict = Literal["delivered", "retry", "dead"]
Status = Literal["pending", "delivered", "failed", "dead"]
"""pending: not tried yet; failed: tried, a retry is scheduled; delivered: a 2xx; dead: given up."""

RETRYABLE_STATUS = frozenset({408, 429})


def verdict_for_status(status: int) -> Verdict:
    """2xx is delivered; 5xx, 408 and 429 are worth retrying; anything else never will be."""
    if 200 <= status < 300:
        return "delivered"
    if status >= 500 or status in RETRYABLE_STATUS:
        return "retry"
    return "dead"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How many attempts, and how long to wait between them."""

    max_attempts: int
    base_seconds: float
    max_seconds: float


def backoff(attempt: int, policy: DeliveryPolicy, jitter: float) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based): exponential, capped, with
    `jitter` (0..1) taking up to half of it away so retries of many deliveries spread out."""
    ceiling = min(policy.max_seconds, policy.base_seconds * 2 ** (attempt - 1))
    return timedelta(seconds=ceiling * (1 - jitter / 2))


@dataclass(frozen=True)
class Next:
    """A delivery's state after one attempt."""

    status: Status
    due_at: datetime | None
    """When to try again (None when there is nothing more to do)."""


def after_attempt(
    verdict: Verdict, attempts: int, policy: DeliveryPolicy, now: datetime, jitter: float
) -> Next:
    """The state after `attempts` attempts, the last of which ended with `verdict`."""
    if verdict == "delivered":
        return Next("delivered", None)
    if verdict == "dead" or attempts >= policy.max_attempts:
        return Next("dead", None)
    return Next("failed", now + backoff(attempts, policy, jitter))


def signature(secret: str, body: bytes) -> str:
    """The `X-Mash-Signature` value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
