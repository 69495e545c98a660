"""Notify's commands and event handlers: load, call the domain, save, emit (one transaction).

The module ends with `EVENTS`, the table the consumer dispatches on. The delivery loops
that call `record_attempt` are the background job in `jobs.py`.

Each logs what it does with a referral (contract section 12) in its own transaction:
`disclosed` when a referral is staged on its agency's topic and again when a webhook
answers 2xx (naming the host), `altered` for an acknowledgement, a subscription set or
removed, and a redelivery. An entry names the referral, its incident and the keys of the
person it is about, never the record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, uuid5
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from notify import referring, repository, webhooks
from notify.config import Settings
from notify.domain import marac_referrals
from notify.domain.clocks import ClockPolicy
from notify.domain.delivery import Next, Status, Verdict, after_attempt
from notify.domain.records import LedgerEntry, created_record
from notify.domain.referrals import NewReferral, ReferralTiming, plan
from notify.metrics import ReferralMetrics
from notify.referring import Origin, Wanted
from notify.webhooks import Attempt, host_of
from shared import audit
from shared.audit import Entry, Item
from shared.auth import Principal
from shared.envelope import CloudEvent
from shared.identity import victim_key
from shared.kafka import EventTable, On
from shared.schemas import Person, ReferralOutcome, ReferralOverdue, TriageDecided
from shared.schemas.marac import MaracReferralForIdva
from shared.service import Platform
from shared.telemetry import inject_headers
from shared.topics import (
    DEADLETTER,
    ESCALATIONS,
    MARAC_REFERRAL_RECEIVED,
    REFERRAL_ACKNOWLEDGED,
    REFERRAL_CREATED,
    REFERRAL_DEAD,
    REFERRAL_DELIVERED,
    REFERRAL_OUTCOMES,
    REFERRAL_OVERDUE,
    TRIAGE_DECIDED,
    referrals_topic,
)

log = logging.getLogger(__name__)
NAME = "notify"
ACK_ROUTE = "/v1/referrals/{referral_id}/ack"
SUBSCRIPTION_ROUTE = "/v1/subscriptions/{agency}"


def _system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Notify:
    """What notify's handlers work with: the platform, notify's own metrics, the clock of
    its commands and jobs, and the resolver that webhook hosts are checked with (both
    injectable: tests move the clock and resolve names without DNS)."""

    platform: Platform[Settings]
    metrics: ReferralMetrics
    clock: Callable[[], datetime] = field(default=_system_clock)
    resolver: webhooks.Resolver = field(default=webhooks.system_resolver)

    @classmethod
    def on(
        cls,
        platform: Platform[Settings],
        clock: Callable[[], datetime] | None = None,
        resolver: webhooks.Resolver | None = None,
    ) -> Notify:
        return cls(
            platform,
            ReferralMetrics(platform.metrics.registry),
            clock or _system_clock,
            resolver or webhooks.system_resolver,
        )

    @property
    def settings(self) -> Settings:
        return self.platform.settings


class UnknownReferral(Exception):
    """No referral has this id."""


class NotYourReferral(Exception):
    """The referral belongs to an agency the caller may not act for."""


class AlreadyDelivered(Exception):
    """The referral was delivered: there is nothing to send again."""


class NoSubscription(Exception):
    """The agency has no subscription to deliver to."""


class NoWebhookOfItsOwn(Exception):
    """The delivery was made with no webhook (the agency had none): only `current` can
    send it."""


class RefusedUrl(Exception):
    """The webhook URL is not allowed (contract section 5); the reason, never the URL."""


def timing_of(settings: Settings) -> ReferralTiming:
    zone = ZoneInfo(settings.school_timezone)
    return ReferralTiming(
        timezone=zone,
        school_day_start=settings.school_day_start,
        school_release=settings.school_release_time,
        review_within=timedelta(hours=settings.review_due_hours),
        clocks=ClockPolicy(timezone=zone),
    )


async def on_triage_decided(
    notify: Notify,
    session: AsyncSession,
    decision: TriageDecided,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A triage decision: make the referrals the incident does not have yet (staged:
    `notify.referring` makes the batch's at once, as one-by-one would)."""
    settings = notify.settings
    planned = plan(decision, timing_of(settings), now)
    for rejected in planned.rejected:
        log.warning(
            "decision %s: no referral for %s: its subject or reason is not valid",
            decision.decision_id,
            rejected.agency,
        )
    if not planned.referrals:
        return
    key = victim_key(settings.hub.pseudonym_key, decision.incident.victim, decision.incident_id)
    origin = Origin(str(decision.incident_id), str(decision.decision_id), decision.risk_level, key)
    wanted = [(referral, _about(decision, referral)) for referral in planned.referrals]
    referring.stage(notify, session, Wanted(origin, wanted, now, inject_headers()))


async def on_marac_referral_received(
    notify: Notify,
    session: AsyncSession,
    referral: MaracReferralForIdva,
    event: CloudEvent,
    now: datetime,
) -> None:
    """An agency referred a victim to MARAC: the IDVA service is referred too (reason
    `marac_referral`), once per MARAC referral, unless IDVA made it (a redelivery, or the
    same referral announced again: `notify.referring` makes it only once). The MARAC
    referral's id stands where an incident's would (`incident_id`, `ce_subject`), as on
    marac's own events."""
    if not marac_referrals.wanted(referral):
        return
    source_id = str(referral.marac_referral_id)
    settings = notify.settings
    timing = timing_of(settings)
    new = marac_referrals.idva_referral(referral, timing.timezone, timing.clocks, now)
    key = victim_key(settings.hub.pseudonym_key, referral.victim, source_id)
    origin = Origin(source_id, source_id, marac_referrals.RISK_LEVEL, key)
    wanted = Wanted(origin, [(new, referral.victim)], now, inject_headers())
    referring.stage(notify, session, wanted)


def _about(decision: TriageDecided, referral: NewReferral) -> Person | None:
    """The person a referral is about: the victim, or the child a school is told of."""
    if referral.subject.startswith("child:"):
        index = int(referral.subject.removeprefix("child:"))
        children = decision.incident.children
        return children[index] if index < len(children) else None
    return decision.incident.victim


async def _log(
    notify: Notify,
    session: AsyncSession,
    entry: Entry,
    referral_ids: list[str],
    now: datetime,
    incidents: dict[str, str] | None = None,
) -> None:
    """Log one operation on these referrals (and their incidents, when given), each with
    the keys of the person it is about."""
    keys = await repository.subject_keys(session, referral_ids)
    found = [Item(r, keys.get(r, ())) for r in referral_ids]
    for referral_id, incident_id in (incidents or {}).items():
        found.append(Item(incident_id, keys.get(referral_id, ())))
    await audit.log(notify.platform.outbox, session, entry, found, now)


async def _outcome(
    notify: Notify,
    session: AsyncSession,
    entry: LedgerEntry | repository.Overdue,
    kind: str,
    at: datetime,
    attempts: int | None = None,
) -> None:
    """Stage an outcome event (acknowledged, delivered, dead, overdue) on the outcomes
    topic: ids and times only, for the console."""
    data = ReferralOutcome(
        referral_id=entry.referral_id,
        agency=entry.agency,
        incident_id=entry.incident_id,
        at=at,
        due_by=entry.due_by,
        attempts=attempts,
    )
    event = CloudEvent(
        id=str(uuid5(NAMESPACE_URL, f"mash:notify:{kind}:{entry.referral_id}:{attempts}")),
        source=notify.settings.source,
        type=kind,
        subject=entry.incident_id,
        data=data.model_dump(mode="json", exclude_none=True),
        time=at,
    )
    await notify.platform.outbox.add(session, REFERRAL_OUTCOMES, entry.victim_key, event)


async def acknowledge(
    notify: Notify, referral_id: str, principal: Principal, route: str = ACK_ROUTE
) -> None:
    """Record an agency's acknowledgement of one of its referrals (the first one counts,
    and only it is published as `mash.referral.acknowledged` and logged as altered)."""
    now = notify.clock()
    async with notify.platform.uow() as session:
        entry = await repository.record(session, referral_id)
        if entry is None:
            raise UnknownReferral(referral_id)
        if not principal.may(f"referrals:ack:{entry.agency}"):
            raise NotYourReferral(referral_id)
        if await repository.acknowledge(session, referral_id, now):
            await _outcome(notify, session, entry, REFERRAL_ACKNOWLEDGED, now)
            altered = Entry(NAME, "altered", principal.subject, "api", route, "referral")
            incidents = {referral_id: entry.incident_id}
            await _log(notify, session, altered, [referral_id], now, incidents)


async def subscribe(
    notify: Notify, agency: str, url: str, secret: str, by: str, written: str | None = None
) -> None:
    """Set (or replace) the agency's webhook: its new referrals are POSTed there too.
    RefusedUrl when the URL may not be a webhook (contract section 5), as parsed (`url`)
    or as `written`, whichever reading refuses it. Logged as altered by `by` (the token's
    `sub`)."""
    settings = notify.settings
    for reading in dict.fromkeys([url, written or url]):
        why = await webhooks.refusal(reading, notify.resolver, settings.allows_loopback)
        if why is not None:
            raise RefusedUrl(why)
    sealed = settings.secret_box().seal(secret)
    async with notify.platform.uow() as session:
        now = notify.clock()
        await repository.subscribe(session, agency, url, sealed, now)
        await _log_subscription(notify, session, agency, by, now)


async def unsubscribe(notify: Notify, agency: str, by: str) -> bool:
    """Remove the agency's webhook and cancel its pending deliveries; False when it had
    none. Logged as altered by `by` when it had one."""
    async with notify.platform.uow() as session:
        if not await repository.unsubscribe(session, agency):
            return False
        await _log_subscription(notify, session, agency, by, notify.clock())
        return True


async def _log_subscription(
    notify: Notify, session: AsyncSession, agency: str, by: str, now: datetime
) -> None:
    """A subscription set or removed: the agency's, by whom (it is about no one)."""
    altered = Entry(NAME, "altered", by, "api", SUBSCRIPTION_ROUTE, "subscription")
    await audit.log(notify.platform.outbox, session, altered, [Item(agency)], now)


async def redeliver(
    notify: Notify, referral_id: str, principal: Principal, to_current: bool = False
) -> None:
    """Queue a referral's delivery again (contract section 5): to the URL and secret it was
    made under, or to the agency's current subscription when `to_current`. Needs the
    referral's agency's `subscriptions:write:<agency>`; the agency must be subscribed.
    Logged as altered by the token's `sub`, naming the host it will go to."""
    async with notify.platform.uow() as session:
        entry = await repository.record(session, referral_id)
        if entry is None:
            raise UnknownReferral(referral_id)
        if not principal.may(f"subscriptions:write:{entry.agency}"):
            raise NotYourReferral(referral_id)
        if entry.status == Status.DELIVERED or (entry.channel == "topic" and entry.published):
            raise AlreadyDelivered(referral_id)
        webhook = await repository.subscription(session, entry.agency)
        if webhook is None:
            raise NoSubscription(entry.agency)
        before = await repository.delivery_url(session, referral_id)
        if not to_current:
            webhook = await repository.own_webhook(session, referral_id)
            if webhook is None:
                raise NoWebhookOfItsOwn(referral_id)
        now = notify.clock()
        if not await repository.requeue(session, referral_id, webhook, now):
            raise AlreadyDelivered(referral_id)
        altered = Entry(
            NAME, "altered", principal.subject, "api", _redirected(webhook.url, before), "referral"
        )
        await _log(notify, session, altered, [referral_id], now, {referral_id: entry.incident_id})


def _redirected(url: str, before: str | None) -> str:
    """Where a redelivery goes: the new host, and the one the delivery was pinned to when
    that differs (a redelivery to another host is a disclosure somewhere else)."""
    host = host_of(url)
    was = host_of(before) if before else None
    return host if was in (None, host) else f"{host} (was {was})"


async def redeliver_dead(
    notify: Notify, agency: str, since: datetime, by: str, to_current: bool = False
) -> int:
    """Queue again every dead delivery of the agency made since `since`, each to its own
    webhook or all to the current subscription when `to_current`; how many. Logged as
    altered by `by`, one entry per host the deliveries go to (and were pinned to)."""
    async with notify.platform.uow() as session:
        current = await repository.subscription(session, agency)
        if current is None:
            raise NoSubscription(agency)
        now = notify.clock()
        by_route: dict[str, list[str]] = {}
        for referral_id in await repository.dead_since(session, agency, since):
            before = await repository.delivery_url(session, referral_id)
            webhook = current if to_current else await repository.own_webhook(session, referral_id)
            if webhook is not None and await repository.requeue(session, referral_id, webhook, now):
                by_route.setdefault(_redirected(webhook.url, before), []).append(referral_id)
        for route, queued in by_route.items():
            altered = Entry(NAME, "altered", by, "api", route, "referral")
            await _log(notify, session, altered, queued, now)
        return sum(len(queued) for queued in by_route.values())


async def begin_attempt(
    notify: Notify, due: repository.DueDelivery, lease_until: datetime
) -> int | None:
    """Lease a due delivery and record its next attempt as in flight, committed before
    the POST, so a crash after it leaves a trace (`unknown`). The attempt's number, or
    None when another instance took the delivery first."""
    async with notify.platform.uow() as session:
        if not await repository.lease(session, due.referral_id, due.version, lease_until):
            return None
        made = await repository.close_interrupted(session, due.referral_id, notify.clock())
        await repository.start_attempt(session, due.referral_id, made + 1, notify.clock())
        return made + 1


async def record_attempt(
    notify: Notify,
    due: repository.DueDelivery,
    number: int,
    attempt: Attempt,
    jitter: float,
) -> Next:
    """Save what attempt `number` came to and the delivery's next state, right after its
    answer, with its outcome event and, when dead, the referral on the dead-letter topic:
    all in one transaction. A delivery cancelled meanwhile stays cancelled unless the
    attempt delivered it."""
    settings = notify.settings
    after = after_attempt(
        attempt.verdict,
        number - due.round_start,
        settings.delivery_policy(),
        attempt.finished_at,
        jitter,
    )
    attempted = repository.Attempted(
        number,
        attempt.started_at,
        attempt.finished_at,
        attempt.verdict,
        attempt.http_status,
        attempt.error,
    )
    async with notify.platform.uow() as session:
        status = await repository.delivery_status(session, due.referral_id)
        if status == Status.CANCELLED and after.status != Status.DELIVERED:
            after = Next(Status.CANCELLED, None)
        await repository.finish_attempt(session, due.referral_id, attempted, after)
        if after.status in (Status.DELIVERED, Status.DEAD):
            entry = await repository.record(session, due.referral_id)
            assert entry is not None, "a delivery always has its referral"
            kind = REFERRAL_DELIVERED if after.status == Status.DELIVERED else REFERRAL_DEAD
            await _outcome(notify, session, entry, kind, attempt.finished_at, number)
            if after.status == Status.DELIVERED:
                host = host_of(due.webhook_url)
                disclosed = Entry(
                    NAME, "disclosed", NAME, "webhook", host, "referral", entry.agency
                )
                incidents = {entry.referral_id: entry.incident_id}
                ids = [entry.referral_id]
                await _log(notify, session, disclosed, ids, attempt.finished_at, incidents)
            if after.status == Status.DEAD:
                letter = _dead_letter(entry, attempt, number, settings.source)
                await notify.platform.outbox.add(session, DEADLETTER, entry.victim_key, letter)
    if after.status == Status.DEAD:
        notify.metrics.dead.labels(due.agency).inc()
    return after


async def escalate_overdue(notify: Notify, now: datetime) -> int:
    """Escalate, once each, the referrals past `due_by` without an acknowledgement:
    `mash.referral.overdue` on `mash.escalations.v1`, through the outbox. How many."""
    escalated = 0
    async with notify.platform.uow() as session:
        for due in await repository.overdue(session, now):
            if not await repository.mark_overdue(session, due.referral_id, due.due_by):
                continue  # another instance escalated it
            data = ReferralOverdue(
                referral_id=due.referral_id,
                agency=due.agency,
                incident_id=due.incident_id,
                reason=due.reason,
                due_by=due.due_by,
                overdue_since=due.due_by,
            )
            event = CloudEvent(
                id=str(uuid5(NAMESPACE_URL, f"mash:notify:overdue:{due.referral_id}")),
                source=notify.settings.source,
                type=REFERRAL_OVERDUE,
                subject=due.incident_id,
                data=data.model_dump(mode="json"),
                time=now,
            )
            await notify.platform.outbox.add(session, ESCALATIONS, due.victim_key, event)
            # the same fact, ids and times only, for read models that may not read the
            # escalations (the console: contract section 8), so that a referral no webhook
            # delivers and nobody acknowledges is still counted overdue
            await _outcome(notify, session, due, REFERRAL_OVERDUE, due.due_by)
            notify.platform.metrics.referrals_overdue.labels(due.agency).inc()
            escalated += 1
    return escalated


def _dead_letter(entry: LedgerEntry, attempt: Attempt, attempts: int, source: str) -> CloudEvent:
    """The referral as it was POSTed, with headers naming why and where it could not go.

    Its `ce_id` differs from the referral's (that id is its event on the agency's topic);
    `mash_dlq_referral_id` names the referral.
    """
    why = "refused" if attempt.verdict == Verdict.DEAD else f"exhausted {attempts} attempts"
    return CloudEvent(
        # one a death: a redelivered delivery may die again, after more attempts
        id=str(uuid5(NAMESPACE_URL, f"mash:notify:deadletter:{entry.referral_id}:{attempts}")),
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
    TRIAGE_DECIDED: On(TriageDecided, on_triage_decided),
    # on mash.marac.idva-referrals.v1 (notify never reads mash.marac.v1's announcement)
    MARAC_REFERRAL_RECEIVED: On(MaracReferralForIdva, on_marac_referral_received),
}
