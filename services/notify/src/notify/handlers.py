"""Notify's commands and event handlers: load, call the domain, save, emit (one transaction)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify import ledger, store
from notify.config import Settings
from notify.domain.referrals import NewReferral, Policy, not_yet_made, plan
from notify.metrics import ReferralMetrics
from notify.records import created_record
from notify.sealing import SecretBox
from shared.auth import Principal
from shared.db import utc
from shared.envelope import CloudEvent
from shared.identity import victim_key
from shared.kafka import Handler
from shared.schemas import TriageDecided
from shared.service import Platform
from shared.telemetry import inject_headers
from shared.topics import REFERRAL_CREATED, TRIAGE_DECIDED, referrals_topic

log = logging.getLogger(__name__)


class UnknownReferral(Exception):
    """No referral has this id."""


class NotYourReferral(Exception):
    """The referral belongs to an agency the caller may not act for."""


def policy_of(settings: Settings) -> Policy:
    return Policy(
        timezone=ZoneInfo(settings.school_timezone),
        school_day_start=settings.school_day_start,
        school_release=settings.school_release_time,
        review_within=timedelta(hours=settings.review_due_hours),
    )


def on_decision(platform: Platform, settings: Settings, metrics: ReferralMetrics) -> Handler:
    """The handler of `mash.triage.decided`: make the referrals the incident does not have."""

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        if event.type != TRIAGE_DECIDED:
            return
        decision = TriageDecided.model_validate(event.data)  # invalid: dead-lettered at once
        now = datetime.now(UTC)
        planned = plan(decision, policy_of(settings), now)
        for rejected in planned.rejected:
            log.warning(
                "decision %s: no referral for %s: its subject or reason is not valid",
                decision.decision_id,
                rejected.agency,
            )
        made = await ledger.made_for(session, str(decision.incident_id))
        key = victim_key(
            settings.platform.pseudonym_key, decision.incident.victim, decision.incident_id
        )
        for referral in not_yet_made(planned.referrals, made):
            await _make_referral(platform, settings, session, decision, referral, key, now)
            metrics.referrals.labels(referral.agency).inc()

    return handle


async def _make_referral(
    platform: Platform,
    settings: Settings,
    session: AsyncSession,
    decision: TriageDecided,
    referral: NewReferral,
    key: str,
    now: datetime,
) -> None:
    """Record one referral and its delivery, and stage its event on the agency's topic."""
    referral_id = str(uuid4())
    subscribed = await ledger.subscription(session, referral.agency) is not None
    await session.execute(
        insert(store.referrals).values(
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
            review_due_at=utc(referral.review_due_at) if referral.review_due_at else None,
        )
    )
    await session.execute(
        insert(store.deliveries).values(
            referral_id=referral_id,
            agency=referral.agency,
            channel="webhook" if subscribed else "topic",
            status="pending",
            attempts=0,
            deliver_after=utc(referral.deliver_after),
            due_at=utc(referral.deliver_after) if subscribed else None,
            version=0,
            trace=inject_headers(),
        )
    )
    row = await ledger.record(session, referral_id)
    # ce_id = referral_id, on Kafka as in the webhook: one id for one referral everywhere
    event = CloudEvent(
        id=referral_id,
        source=settings.source,
        type=REFERRAL_CREATED,
        subject=str(decision.incident_id),
        data=created_record(row),
        time=now,
    )
    await platform.outbox.add(session, referrals_topic(referral.agency), key, event)


async def acknowledge(
    platform: Platform, referral_id: str, principal: Principal, now: datetime
) -> None:
    """Record an agency's acknowledgement of one of its referrals (the first one counts)."""
    async with platform.uow() as session:
        row = await ledger.record(session, referral_id)
        if row is None:
            raise UnknownReferral(referral_id)
        if not principal.may(f"referrals:ack:{row.agency}"):
            raise NotYourReferral(referral_id)
        await ledger.acknowledge(session, referral_id, now)


def _box(platform: Platform) -> SecretBox:
    settings = platform.settings
    assert isinstance(settings, Settings)
    return settings.secret_box()


async def subscribe(platform: Platform, agency: str, url: str, secret: str, now: datetime) -> None:
    """Set (or replace) the agency's webhook: its new referrals are POSTed there too."""
    async with platform.uow() as session:
        await session.execute(
            delete(store.subscriptions).where(store.subscriptions.c.agency == agency)
        )
        await session.execute(
            insert(store.subscriptions).values(
                agency=agency, webhook_url=url, secret=_box(platform).seal(secret), updated_at=now
            )
        )


async def unsubscribe(platform: Platform, agency: str) -> bool:
    """Remove the agency's webhook; False when it had none."""
    async with platform.uow() as session:
        result = await session.execute(
            delete(store.subscriptions).where(store.subscriptions.c.agency == agency)
        )
    return bool(getattr(result, "rowcount", 0))
