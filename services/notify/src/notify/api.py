"""Notify's HTTP API (contract section 5): thin, parse -> handler -> answer.

Referral scopes are per agency (`referrals:read:<agency>`, `referrals:ack:<agency>`), so
they are checked against the agency each request is about, after a first check that the
token holds some such scope at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from notify import handlers, repository
from notify.domain.records import current_record
from notify.schemas import Subscribed, Subscription
from shared.auth import CurrentPrincipal, Principal, require
from shared.schemas import ReferralCreated
from shared.schemas.v1 import Agency
from shared.service import PlatformDep
from shared.topics import AGENCIES

router = APIRouter(prefix="/v1")
PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or not a valid one"},
    403: {"description": "The token lacks the scope"},
    422: {"description": "Problem details naming every bad field"},
}


def _holding(prefix: str) -> Any:
    def check(principal: CurrentPrincipal) -> Principal:
        if not any(scope.startswith(prefix) for scope in principal.scopes):
            raise HTTPException(403, f"This token holds no '{prefix}<agency>' scope.")
        return principal

    return check


Reader = Annotated[Principal, Depends(_holding("referrals:read:"))]
Acker = Annotated[Principal, Depends(_holding("referrals:ack:"))]
Subscriber = Annotated[Principal, Depends(require("subscriptions:write"))]


@router.get(
    "/referrals",
    tags=["referrals"],
    response_model=list[ReferralCreated],
    summary="An agency's referrals",
    responses=PROBLEMS,
)
async def list_referrals(
    platform: PlatformDep,
    principal: Reader,
    agency: Annotated[Agency, Query(description="One of the five agencies.")],
    incident_id: Annotated[UUID | None, Query(description="Only this incident's.")] = None,
) -> list[dict[str, Any]]:
    """The agency's referrals, oldest first, each carrying only what the agency may see.
    Needs `referrals:read:<agency>` (that agency) or `referrals:read:*`."""
    if not principal.may(f"referrals:read:{agency}", "referrals:read:*"):
        raise HTTPException(403, f"This token may not read the referrals of '{agency}'.")
    async with platform.sessions() as session:
        entries = await repository.records(
            session, agency, str(incident_id) if incident_id else None
        )
    return [current_record(entry) for entry in entries]


@router.post(
    "/referrals/{referral_id}/ack",
    tags=["referrals"],
    status_code=204,
    summary="Acknowledge a referral",
    responses={404: {"description": "Unknown referral"}, **PROBLEMS},
)
async def acknowledge(referral_id: UUID, platform: PlatformDep, principal: Acker) -> Response:
    """Record the agency's acknowledgement (scope `referrals:ack:<the referral's agency>`)."""
    try:
        await handlers.acknowledge(platform, str(referral_id), principal, datetime.now(UTC))
    except handlers.UnknownReferral:
        raise HTTPException(404, "No referral has this id.") from None
    except handlers.NotYourReferral:
        raise HTTPException(403, "This token may not acknowledge this referral.") from None
    return Response(status_code=204)


def _known_agency(agency: str) -> str:
    if agency not in AGENCIES:
        raise HTTPException(404, "No agency has this name.")
    return agency


KnownAgency = Annotated[str, Depends(_known_agency)]


@router.put(
    "/subscriptions/{agency}",
    tags=["subscriptions"],
    response_model=Subscribed,
    summary="Subscribe an agency's webhook",
    responses={404: {"description": "Unknown agency"}, **PROBLEMS},
)
async def subscribe(
    _: Subscriber, agency: KnownAgency, body: Subscription, platform: PlatformDep
) -> Subscribed:
    """From now on each new referral for the agency is also POSTed to `webhook_url`, signed
    with `secret`; a new PUT replaces the subscription."""
    url = str(body.webhook_url)
    await handlers.subscribe(platform, agency, url, body.secret, datetime.now(UTC))
    return Subscribed(agency=agency, webhook_url=url)


@router.delete(
    "/subscriptions/{agency}",
    tags=["subscriptions"],
    status_code=204,
    summary="Remove an agency's webhook",
    responses={404: {"description": "Unknown agency, or no subscription"}, **PROBLEMS},
)
async def unsubscribe(_: Subscriber, agency: KnownAgency, platform: PlatformDep) -> Response:
    """Stop POSTing the agency's referrals (they stay on its topic and in GET)."""
    if not await handlers.unsubscribe(platform, agency):
        raise HTTPException(404, "This agency has no subscription.")
    return Response(status_code=204)
