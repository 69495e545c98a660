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
from enum import StrEnum
from typing import Literal


class Status(StrEnum):
    """A delivery's state, as the ledger keeps it and agencies read it."""

    PENDING = "pending"
    """Not tried yet (or queued again)."""
    FAILED = "failed"
    """Tried; a retry is scheduled."""
    DELIVERED = "delivered"
    """A 2xx answer (or, for a topic-only delivery, its event is on the agency's topic)."""
    DEAD = "dead"
    """Given up: refused, or out of attempts."""
    CANCELLED = "cancelled"
    """Its subscription was deleted before it was delivered."""


WAITING = (Status.PENDING, Status.FAILED)
"""The states of a delivery the loops still have to try."""
REQUEUEABLE = (Status.PENDING, Status.FAILED, Status.DEAD, Status.CANCELLED)
"""The states of a delivery a redelivery may queue again (not a delivered one)."""


class Verdict(StrEnum):
    """What one webhook attempt came to, as the ledger records it."""

    IN_FLIGHT = "in_flight"
    """Started, its answer not recorded yet (committed before the POST)."""
    DELIVERED = "delivered"
    """A 2xx."""
    RETRY = "retry"
    """No answer worth giving up on: a 5xx, 408, 429, a timeout, a dropped connection."""
    DEAD = "dead"
    """An answer that no retry will change (another 4xx; a refused address)."""
    UNKNOWN = "unknown"
    """Notify stopped mid-attempt: the POST may have reached the receiver. It counts."""


Answer = Literal[Verdict.DELIVERED, Verdict.RETRY, Verdict.DEAD]
"""The verdicts a POST itself gives (the other two are the ledger's)."""

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


def verdict_for_status(status: int) -> Answer:
    """2xx is delivered; 5xx, 408 and 429 are worth retrying; anything else never will be."""
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status >= 500 or status in RETRYABLE_STATUS:
        return Verdict.RETRY
    return Verdict.DEAD


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
    verdict: Answer, attempts: int, policy: DeliveryPolicy, now: datetime, jitter: float
) -> Next:
    """The state after `attempts` attempts (since the delivery was last queued), the last of
    which ended with `verdict`."""
    if verdict == Verdict.DELIVERED:
        return Next(Status.DELIVERED, None)
    if verdict == Verdict.DEAD or attempts >= policy.max_attempts:
        return Next(Status.DEAD, None)
    return Next(Status.FAILED, now + backoff(attempts, policy, jitter))


def signature(secret: str, body: bytes) -> str:
    """The `X-Mash-Signature` value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
