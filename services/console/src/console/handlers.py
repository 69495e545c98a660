"""The console's commands (sign-in, sign-out) and event handlers: load, fold, save.

The table at the end maps each event type the console reads to its data model and
handler; the consumer needs nothing else.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from console import own_tokens, readmodel, repository
from console.config import Settings
from console.domain.facts import (
    Closure,
    Decision,
    Listing,
    MaracAction,
    MaracReferral,
    fold,
    fold_action,
    fold_outcome,
)
from console.domain.people import Person, new_person
from console.oidc import Oidc, OidcRefused, OidcRequest
from shared.auth import SignInGrant, verify_sign_in
from shared.envelope import CloudEvent
from shared.kafka import EventTable, On
from shared.schemas import MaracCaseListed, ReferralOutcome, TriageSummarised
from shared.schemas.marac import MaracActionEvent, MaracCaseClosed, MaracReferralReceived
from shared.service import Platform
from shared.topics import (
    MARAC_ACTION_AGREED,
    MARAC_ACTION_COMPLETED,
    MARAC_CASE_CLOSED,
    MARAC_CASE_LISTED,
    MARAC_REFERRAL_RECEIVED,
    REFERRAL_ACKNOWLEDGED,
    REFERRAL_DEAD,
    REFERRAL_DELIVERED,
    REFERRAL_OVERDUE,
    TRIAGE_SUMMARISED,
)

OIDC_WAIT = timedelta(minutes=10)


class SignInRefused(Exception):
    """A sign-in link that is not valid, has expired, or was used before."""


def session_hash(cookie: str) -> str:
    """Sessions are stored by a hash of their cookie, so a copy of the database signs
    nobody in."""
    return hashlib.sha256(cookie.encode()).hexdigest()


# commands


async def start_session(
    platform: Platform[Settings],
    subject: str,
    scopes: frozenset[str],
    method: str,
    now: datetime,
    access_token: str | None = None,
) -> str:
    """A new session for the person, with their own access token if the sign-in gave one
    (kept no longer than the session); its cookie value."""
    settings = platform.settings
    cookie = secrets.token_urlsafe(32)
    person = new_person(
        subject,
        scopes,
        method,
        secrets.token_urlsafe(32),
        now,
        timedelta(minutes=settings.session_minutes),
    )
    own = own_tokens.parse(access_token, person.expires_at)
    async with platform.uow() as session:
        await repository.add_session(session, session_hash(cookie), person)
        if own is not None:
            await own_tokens.save(session, session_hash(cookie), cookie, own)
    return cookie


def _grant(platform: Platform[Settings], token: str) -> SignInGrant:
    shared = platform.settings.hub
    try:
        return verify_sign_in(shared, token)
    except PermissionError:
        raise SignInRefused from None


async def link_holder(platform: Platform[Settings], token: str, now: datetime) -> str:
    """Who an unused, valid sign-in link would sign in (it is not used by asking)."""
    grant = _grant(platform, token)
    if grant.expires_at <= now:
        raise SignInRefused
    async with platform.sessions() as session:
        if await repository.link_used(session, grant.link_id):
            raise SignInRefused
    return grant.principal.subject


async def sign_in_with_link(platform: Platform[Settings], token: str, now: datetime) -> str:
    """Redeem a one-time sign-in link (once, within its 10 minutes); the session's cookie."""
    grant = _grant(platform, token)
    async with platform.uow() as session:
        if not await repository.use_link(session, grant.link_id, grant.expires_at, now):
            raise SignInRefused
    principal = grant.principal
    return await start_session(
        platform, principal.subject, principal.scopes, "link", now, grant.access_token
    )


async def begin_oidc(
    platform: Platform[Settings], oidc: Oidc, next_path: str, now: datetime
) -> OidcRequest:
    """A new authorisation request, remembered until the provider answers (10 minutes)."""
    try:
        request = await oidc.authorization()
    except OidcRefused:
        raise SignInRefused from None
    async with platform.uow() as session:
        await repository.add_oidc_request(
            session,
            {
                "state": request.state,
                "code_verifier": request.code_verifier,
                "nonce": request.nonce,
                "next_path": next_path,
                "expires_at": now + OIDC_WAIT,
            },
        )
    return request


async def finish_oidc(
    platform: Platform[Settings], oidc: Oidc, state: str, code: str, now: datetime
) -> tuple[str, str]:
    """The provider's answer: a session for the person (its cookie) and where they were
    going; each request is answered once."""
    async with platform.uow() as session:
        pending = await repository.take_oidc_request(session, state, now)
    if pending is None or not code:
        raise SignInRefused
    try:
        found = await oidc.complete(code, pending["code_verifier"], pending["nonce"])
    except OidcRefused:
        raise SignInRefused from None
    cookie = await start_session(
        platform, found.subject, found.scopes, "oidc", now, found.access_token
    )
    return cookie, str(pending["next_path"])


async def purge(platform: Platform[Settings], now: datetime) -> int:
    """Forget what has expired: pending OpenID requests, sessions, their own tokens, used
    links' records."""
    async with platform.uow() as session:
        tokens = await own_tokens.purge(session, now)
        return tokens + await repository.purge_expired(session, now)


async def sign_out(platform: Platform[Settings], cookie: str, now: datetime) -> None:
    async with platform.uow() as session:
        await repository.end_session(session, session_hash(cookie), now)
        await own_tokens.forget(session, session_hash(cookie), now)


async def signed_in(
    platform: Platform[Settings], cookie: str | None, now: datetime
) -> Person | None:
    """The person whose session the cookie names, while it lasts, with their own access
    token while that lasts."""
    if not cookie:
        return None
    async with platform.sessions() as session:
        person = await repository.find_session(session, session_hash(cookie), now)
        if person is None:
            return None
        own = await own_tokens.find(session, session_hash(cookie), cookie, now)
    return replace(person, own_token=own) if own else person


# event handlers


async def on_triage_summarised(
    platform: Platform[Settings],
    session: AsyncSession,
    data: TriageSummarised,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A triage decision's summary (never its incident): fold it into its incident's facts."""
    decision = Decision(
        incident_id=str(data.incident_id),
        area=data.area,
        reported_at=data.reported_at,
        decided_at=data.decided_at,
        risk_level=data.risk_level,
        risk_basis=data.risk_basis,
        dash_score=data.dash_score,
        flags=frozenset(data.flags),
        children_count=data.children_count,
        referrals=frozenset(f"{r.agency}/{r.subject}" for r in data.referrals),
    )
    known = await readmodel.find_incident(session, decision.incident_id)
    await readmodel.save_incident(session, fold(known, decision))


async def on_case_listed(
    platform: Platform[Settings],
    session: AsyncSession,
    data: MaracCaseListed,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A case listed on a MARAC meeting: counted once (never its people)."""
    listing = Listing(
        case_id=str(data.case_id),
        meeting_id=str(data.meeting_id),
        area=data.area,
        meeting_date=data.meeting_date,
        repeat=data.repeat,
        listed_at=data.listed_at,
    )
    await readmodel.save_listing(session, listing)


async def on_marac_referral(
    platform: Platform[Settings],
    session: AsyncSession,
    data: MaracReferralReceived,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A referral to MARAC from an agency: the case it joined is partner-referred."""
    referral = MaracReferral(
        marac_referral_id=str(data.marac_referral_id),
        case_id=str(data.case_id),
        area=data.area,
        agency=data.referring_agency,
        received_at=data.received_at,
    )
    await readmodel.save_marac_referral(session, referral)


async def on_case_closed(
    platform: Platform[Settings],
    session: AsyncSession,
    data: MaracCaseClosed,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A case discussed at its meeting, with the agencies whose research came before it."""
    closure = Closure(
        case_id=str(data.case_id),
        meeting_id=str(data.meeting_id),
        area=data.area,
        meeting_date=data.meeting_date,
        research_before_meeting=frozenset(data.research_before_meeting),
        closed_at=data.closed_at,
    )
    await readmodel.save_closure(session, closure)


async def on_action(
    platform: Platform[Settings],
    session: AsyncSession,
    data: MaracActionEvent,
    event: CloudEvent,
    now: datetime,
) -> None:
    """An action agreed or completed: its due date and, once done, when (never its text)."""
    action = MaracAction(
        action_id=str(data.action_id),
        case_id=str(data.case_id),
        area=data.area,
        agency=data.agency,
        due_by=data.due_by,
    )
    completed_at = data.at if event.type == MARAC_ACTION_COMPLETED else None
    known = await readmodel.find_action(session, action.action_id)
    await readmodel.save_action(session, fold_action(known, action, completed_at))


OUTCOME_OF = {
    REFERRAL_ACKNOWLEDGED: "acknowledged",
    REFERRAL_DELIVERED: "delivered",
    REFERRAL_DEAD: "dead",
    REFERRAL_OVERDUE: "overdue",
}


async def on_referral_outcome(
    platform: Platform[Settings],
    session: AsyncSession,
    data: ReferralOutcome,
    event: CloudEvent,
    now: datetime,
) -> None:
    """Notify's word on a referral (acknowledged, delivered, dead): folded into what the
    console knows of it, so a repeat or a late event changes nothing it should not."""
    referral_id = str(data.referral_id)
    known = await readmodel.find_outcome(session, referral_id)
    outcome = fold_outcome(
        known,
        OUTCOME_OF[event.type],
        referral_id,
        data.agency,
        str(data.incident_id),
        data.at,
        data.due_by,
    )
    await readmodel.save_outcome(session, outcome)


EVENTS: EventTable[Platform[Settings]] = {
    TRIAGE_SUMMARISED: On(TriageSummarised, on_triage_summarised),
    MARAC_CASE_LISTED: On(MaracCaseListed, on_case_listed),
    MARAC_REFERRAL_RECEIVED: On(MaracReferralReceived, on_marac_referral),
    MARAC_CASE_CLOSED: On(MaracCaseClosed, on_case_closed),
    MARAC_ACTION_AGREED: On(MaracActionEvent, on_action),
    MARAC_ACTION_COMPLETED: On(MaracActionEvent, on_action),
    REFERRAL_ACKNOWLEDGED: On(ReferralOutcome, on_referral_outcome),
    REFERRAL_DELIVERED: On(ReferralOutcome, on_referral_outcome),
    REFERRAL_DEAD: On(ReferralOutcome, on_referral_outcome),
    REFERRAL_OVERDUE: On(ReferralOutcome, on_referral_outcome),
}
