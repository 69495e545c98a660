"""Notify's commands and event handlers: load, call the domain, save, emit (one transaction).

The module ends with `EVENTS`, the table the consumer dispatches on. The delivery loops
that call `record_attempt` are the background job in `jobs.py`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, uuid4, uuid5
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from notify import repository
from notify.config import Settings
from notify.domain.delivery import DeliveryPolicy, Next, after_attempt
from notify.domain.records import LedgerEntry, created_record
from notify.domain.referrals import NewReferral, ReferralTiming, not_yet_made, plan
from notify.metrics import ReferralMetrics
from notify.webhooks import Attempt
from shared.auth import Principal
from shared.envelope import CloudEvent
from shared.identity import victim_key
from shared.kafka import EventTable, On
from shared.schemas import TriageDecided
from shared.service import Platform
from shared.telemetry import inject_headers
from shared.topics import DEADLETTER, REFERRAL_CREATED, TRIAGE_DECIDED, referrals_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notify:
    """What notify's handlers work with: the platform and notify's own metrics."""

    platform: Platform[Settings]
    metrics: ReferralMetrics

    @classmethod
    def on(cls, platform: Platform[Settings]) -> Notify:
        return cls(platform, ReferralMetrics(platform.metrics.registry))

    @property
    def settings(self) -> Settings:
        return self.platform.settings


class UnknownReferral(Exception):
    """No referral has this id."""


class NotYourReferral(Exception):
    """The referral belongs to an agency the caller may not act for."""


def timing_of(settings: Settings) -> ReferralTiming:
    return ReferralTiming(
        timezone=ZoneInfo(settings.school_timezone),
        school_day_start=settings.school_day_start,
        school_release=settings.school_release_time,
        review_within=timedelta(hours=settings.review_due_hours),
    )


def delivery_policy_of(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        max_attempts=settings.delivery_max_attempts,
        base_seconds=settings.delivery_retry_base_seconds,
        max_seconds=settings.delivery_retry_max_seconds,
    )


async def decision_made(
    notify: Notify,
    session: AsyncSession,
    decision: TriageDecided,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A triage decision: make the referrals the incident does not have yet."""
    settings = notify.settings
    planned = plan(decision, timing_of(settings), now)
    for rejected in planned.rejected:
        log.warning(
            "decision %s: no referral for %s: its subject or reason is not valid",
            decision.decision_id,
            rejected.agency,
        )
    made = await repository.made_for(session, str(decision.incident_id))
    key = victim_key(
        settings.platform.pseudonym_key, decision.incident.victim, decision.incident_id
    )
    for referral in not_yet_made(planned.referrals, made):
        await _make_referral(notify, session, decision, referral, key, now)
        notify.metrics.referrals.labels(referral.agency).inc()


async def _make_referral(
    notify: Notify,
    session: AsyncSession,
    decision: TriageDecided,
    referral: NewReferral,
    key: str,
    now: datetime,
) -> None:
    """Record one referral and its delivery, and stage its event on the agency's topic."""
    referral_id = str(uuid4())
    entry = await repository.add_referral(
        session,
        referral_id=referral_id,
        incident_id=str(decision.incident_id),
        agency=referral.agency,
        subject=referral.subject,
        reason=referral.reason,
        risk_level=decision.risk_level,
        decision_id=str(decision.decision_id),
        victim_key=key,
        data=referral.data,
        created_at=now,
        review_due_at=referral.review_due_at,
        deliver_after=referral.deliver_after,
        webhook=await repository.subscribed(session, referral.agency),
        trace=inject_headers(),
    )
    # ce_id = referral_id, on Kafka as in the webhook: one id for one referral everywhere
    event = CloudEvent(
        id=referral_id,
        source=notify.settings.source,
        type=REFERRAL_CREATED,
        subject=str(decision.incident_id),
        data=created_record(entry),
        time=now,
    )
    await notify.platform.outbox.add(session, referrals_topic(referral.agency), key, event)


async def acknowledge(
    platform: Platform[Settings], referral_id: str, principal: Principal, now: datetime
) -> None:
    """Record an agency's acknowledgement of one of its referrals (the first one counts)."""
    async with platform.uow() as session:
        entry = await repository.record(session, referral_id)
        if entry is None:
            raise UnknownReferral(referral_id)
        if not principal.may(f"referrals:ack:{entry.agency}"):
            raise NotYourReferral(referral_id)
        await repository.acknowledge(session, referral_id, now)


async def subscribe(
    platform: Platform[Settings], agency: str, url: str, secret: str, now: datetime
) -> None:
    """Set (or replace) the agency's webhook: its new referrals are POSTed there too."""
    sealed = platform.settings.secret_box().seal(secret)
    async with platform.uow() as session:
        await repository.subscribe(session, agency, url, sealed, now)


async def unsubscribe(platform: Platform[Settings], agency: str) -> bool:
    """Remove the agency's webhook; False when it had none."""
    async with platform.uow() as session:
        return await repository.unsubscribe(session, agency)


async def record_attempt(
    platform: Platform[Settings],
    due: repository.DueDelivery,
    attempt: Attempt,
    jitter: float,
) -> Next:
    """Save what attempt number `due.attempts + 1` came to, the delivery's next state and,
    when it is dead, the referral on the dead-letter topic, all in one transaction."""
    settings = platform.settings
    number = due.attempts + 1
    policy = delivery_policy_of(settings)
    after = after_attempt(attempt.verdict, number, policy, attempt.finished_at, jitter)
    attempted = repository.Attempted(
        number,
        attempt.started_at,
        attempt.finished_at,
        attempt.verdict,
        attempt.http_status,
        attempt.error,
    )
    async with platform.uow() as session:
        await repository.add_attempt(session, due.referral_id, attempted, after)
        if after.status == "dead":
            entry = await repository.record(session, due.referral_id)
            assert entry is not None, "a delivery always has its referral"
            letter = _dead_letter(entry, attempt, number, settings.source)
            await platform.outbox.add(session, DEADLETTER, entry.victim_key, letter)
    return after


def _dead_letter(entry: LedgerEntry, attempt: Attempt, attempts: int, source: str) -> CloudEvent:
    """The referral as it was POSTed, with headers naming why and where it could not go.

    Its `ce_id` differs from the referral's (that id is its event on the agency's topic);
    `mash_dlq_referral_id` names the referral.
    """
    why = "refused" if attempt.verdict == "dead" else f"exhausted {attempts} attempts"
    return CloudEvent(
        id=str(uuid5(NAMESPACE_URL, f"mash:notify:deadletter:{entry.referral_id}")),
        source=source,
        type=REFERRAL_CREATED,
        subject=entry.incident_id,
        data=created_record(entry),
        time=attempt.finished_at,
        trace_headers={
            **inject_headers(),  # the attempt's span, in the referral's trace
            "mash_dlq_error": f"webhook {why}: {attempt.error or 'no answer'}",
            "mash_dlq_origin": "webhook",
            "mash_dlq_origin_topic": referrals_topic(entry.agency),
            "mash_dlq_agency": entry.agency,
            "mash_dlq_referral_id": entry.referral_id,
            "mash_dlq_attempts": str(attempts),
            "mash_dlq_at": attempt.finished_at.isoformat(),
        },
    )


EVENTS: EventTable[Notify] = {
    TRIAGE_DECIDED: On(TriageDecided, decision_made),
}
