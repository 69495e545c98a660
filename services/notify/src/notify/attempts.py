"""The command that records one webhook attempt: the attempt row, the delivery's next state
and, when it is dead, the referral on the dead-letter topic, all in one transaction."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, uuid5

from sqlalchemy import insert, update

from notify import ledger, store
from notify.domain.delivery import Next, Policy, after_attempt
from notify.records import created_record
from notify.webhooks import Attempt
from shared.db import utc
from shared.envelope import CloudEvent
from shared.service import Platform
from shared.telemetry import inject_headers
from shared.topics import DEADLETTER, REFERRAL_CREATED, referrals_topic


async def record_attempt(
    platform: Platform,
    delivery: Any,
    attempt: Attempt,
    policy: Policy,
    jitter: float,
    source: str,
) -> Next:
    """Save what attempt number `delivery.attempts + 1` came to; the delivery's next state."""
    number = delivery.attempts + 1
    after = after_attempt(attempt.verdict, number, policy, attempt.finished_at, jitter)
    async with platform.uow() as session:
        await session.execute(
            insert(store.attempts).values(
                referral_id=delivery.referral_id,
                attempt=number,
                started_at=utc(attempt.started_at),
                finished_at=utc(attempt.finished_at),
                verdict=attempt.verdict,
                http_status=attempt.http_status,
                error=attempt.error,
            )
        )
        await session.execute(
            update(store.deliveries)
            .where(store.deliveries.c.referral_id == delivery.referral_id)
            .values(
                status=after.status,
                attempts=number,
                due_at=utc(after.due_at) if after.due_at else None,
                delivered_at=(utc(attempt.finished_at) if after.status == "delivered" else None),
                last_error=attempt.error,
            )
        )
        if after.status == "dead":
            referral = await ledger.record(session, delivery.referral_id)
            assert referral is not None, "a delivery always has its referral"
            await platform.outbox.add(
                session,
                DEADLETTER,
                referral.victim_key,
                _dead_letter(referral, attempt, number, source),
            )
    return after


def _dead_letter(referral: Any, attempt: Attempt, attempts: int, source: str) -> CloudEvent:
    """The referral as it was POSTed, with headers naming why and where it could not go.

    Its `ce_id` differs from the referral's (that id is its event on the agency's topic);
    `mash_dlq_referral_id` names the referral.
    """
    why = "refused" if attempt.verdict == "dead" else f"exhausted {attempts} attempts"
    return CloudEvent(
        id=str(uuid5(NAMESPACE_URL, f"mash:notify:deadletter:{referral.referral_id}")),
        source=source,
        type=REFERRAL_CREATED,
        subject=referral.incident_id,
        data=created_record(referral),
        time=attempt.finished_at,
        trace_headers={
            **inject_headers(),  # the attempt's span, in the referral's trace
            "mash_dlq_error": f"webhook {why}: {attempt.error or 'no answer'}",
            "mash_dlq_origin": "webhook",
            "mash_dlq_origin_topic": referrals_topic(referral.agency),
            "mash_dlq_agency": referral.agency,
            "mash_dlq_referral_id": referral.referral_id,
            "mash_dlq_attempts": str(attempts),
            "mash_dlq_at": attempt.finished_at.isoformat(),
        },
    )
