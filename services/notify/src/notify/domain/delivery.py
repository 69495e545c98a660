"""Webhook delivery rules: what an answer means, when to try again, how a body is signed.

The retry schedule is the big webhook senders' shape (Stripe, Svix, GitHub's redeliveries):
the first retry within a second, then seconds, minutes and hours, so a partner that is down
for a morning, or a whole day, still receives everything. Jitter only adds (up to
`DeliveryPolicy.jitter` of each wait), so the schedule never spans less than its sum.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Verdict = Literal["delivered", "retry", "dead"]
Status = Literal["pending", "delivered", "failed", "dead", "cancelled"]
"""pending: not tried yet (or queued again); failed: tried, a retry is scheduled;
delivered: a 2xx; dead: given up; cancelled: its subscription was deleted first."""

RETRYABLE_STATUS = frozenset({408, 429})

DEFAULT_SCHEDULE: tuple[float, ...] = (
    0.5,  # the first retry, within a second
    5,
    30,
    2 * 60,
    10 * 60,
    30 * 60,
    60 * 60,
    2 * 60 * 60,
    4 * 60 * 60,
    8 * 60 * 60,
    8 * 60 * 60,
    8 * 60 * 60,
)
"""Seconds to wait after each failed attempt: 13 attempts over 31.7 hours (before jitter)."""

AT_LEAST = timedelta(hours=24)
"""The contract: retried for at least 24 hours before giving up."""


def verdict_for_status(status: int) -> Verdict:
    """2xx is delivered; 5xx, 408 and 429 are worth retrying; anything else never will be."""
    if 200 <= status < 300:
        return "delivered"
    if status >= 500 or status in RETRYABLE_STATUS:
        return "retry"
    return "dead"


@dataclass(frozen=True)
class DeliveryPolicy:
    """The waits between attempts; the attempts are one more than the waits."""

    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    jitter: float = 0.2
    """Each wait is lengthened by up to this share of it, so retries spread out."""

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def span(self) -> timedelta:
        """The shortest time from the first attempt to giving up (no jitter)."""
        return timedelta(seconds=sum(self.schedule))


def backoff(attempt: int, policy: DeliveryPolicy, jitter: float) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based), with `jitter` (0..1)
    adding up to `policy.jitter` of it."""
    seconds = policy.schedule[min(attempt, len(policy.schedule)) - 1]
    return timedelta(seconds=seconds * (1 + policy.jitter * jitter))


@dataclass(frozen=True)
class Next:
    """A delivery's state after one attempt."""

    status: Status
    due_at: datetime | None
    """When to try again (None when there is nothing more to do)."""


def after_attempt(
    verdict: Verdict, attempts: int, policy: DeliveryPolicy, now: datetime, jitter: float
) -> Next:
    """The state after `attempts` attempts (since the delivery was last queued), the last of
    which ended with `verdict`."""
    if verdict == "delivered":
        return Next("delivered", None)
    if verdict == "dead" or attempts >= policy.max_attempts:
        return Next("dead", None)
    return Next("failed", now + backoff(attempts, policy, jitter))


def signature(secret: str, body: bytes) -> str:
    """The `X-Mash-Signature` value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
