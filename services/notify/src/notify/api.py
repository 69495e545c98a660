"""Notify's HTTP API (contract section 5): thin, parse -> handler -> answer.

Referral and subscription scopes are per agency (`referrals:read:<agency>`,
`referrals:ack:<agency>`, `subscriptions:write:<agency>`), so they are checked against the
agency each request is about, after a first check that the token holds some such scope at
all.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from notify import handlers, repository
from notify.domain.records import current_record
from notify.handlers import Notify
from notify.schemas import Queued, Redelivery, RedeliveryTarget, Subscribed, Subscription
from shared.audit import Item, ReadAudit
from shared.auth import CurrentPrincipal, Principal
from shared.errors import FieldErrors
from shared.pagination import PAGED, PageDep
from shared.schemas import ReferralCreated
from shared.schemas.v1 import Agency
from shared.topics import AGENCIES

router = APIRouter(prefix="/v1")
PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or not a valid one"},
    403: {"description": "The token lacks the scope"},
    422: {"description": "Problem details naming every bad field"},
}


def _holding(prefix: str) -> Any:
    async def check(principal: CurrentPrincipal) -> Principal:
        if not any(scope.startswith(prefix) for scope in principal.scopes):
            raise HTTPException(403, f"This token holds no '{prefix}<agency>' scope.")
        return principal

    return check


async def _notify(request: Request) -> Notify:
    notify: Notify = request.app.state.notify
    return notify


NotifyDep = Annotated[Notify, Depends(_notify)]
Reader = Annotated[Principal, Depends(_holding("referrals:read:"))]
Acker = Annotated[Principal, Depends(_holding("referrals:ack:"))]
Subscriber = Annotated[Principal, Depends(_holding("subscriptions:write:"))]


@router.get(
    "/referrals",
    tags=["referrals"],
    response_model=list[ReferralCreated],
    response_model_exclude_unset=True,  # a school's record has no risk_level at all
    summary="An agency's referrals",
    responses={**PAGED, **PROBLEMS},
)
async def list_referrals(
    notify: NotifyDep,
    principal: Reader,
    agency: Annotated[Agency, Query(description="One of the five agencies.")],
    page: PageDep,
    response: Response,
    incident_id: Annotated[UUID | None, Query(description="Only this incident's.")] = None,
) -> list[dict[str, Any]]:
    """The agency's referrals, newest first, each carrying only what the agency may see,
    a page at a time (`limit`, `after`; `Link: <next>; rel="next"` while more remain).
    Needs `referrals:read:<agency>` (that agency) or `referrals:read:*`."""
    if not principal.may(f"referrals:read:{agency}", "referrals:read:*"):
        raise HTTPException(403, f"This token may not read the referrals of '{agency}'.")
    after = page.after  # a cursor this list did not issue: 422 before any read
    async with notify.platform.uow() as session:
        fetched = await repository.records(
            session, agency, str(incident_id) if incident_id else None, after, page.fetch
        )
        entries = page.answer(response, fetched, lambda e: (e.created_at, e.referral_id))
        # a read of personal data: audited, committed before the answer (contract section 2);
        # one page is at most 500 ids, so one entry
        audit = ReadAudit(
            notify.platform.outbox, notify.platform.name, principal.subject, "/v1/referrals"
        )
        ids = [entry.referral_id for entry in entries]
        keys = await repository.subject_keys(session, ids)
        await audit.record(session, "referral", [Item(i, keys.get(i, ())) for i in ids])
    now = notify.clock()
    return [current_record(entry, now) for entry in entries]


@router.post(
    "/referrals/{referral_id}/ack",
    tags=["referrals"],
    status_code=204,
    summary="Acknowledge a referral",
    responses={404: {"description": "Unknown referral"}, **PROBLEMS},
)
async def acknowledge(referral_id: UUID, notify: NotifyDep, principal: Acker) -> Response:
    """Record the agency's acknowledgement (scope `referrals:ack:<the referral's agency>`):
    its clock stops; the first acknowledgement is published as `mash.referral.acknowledged`
    on `mash.referral-outcomes.v1`."""
    try:
        await handlers.acknowledge(notify, str(referral_id), principal)
    except handlers.UnknownReferral:
        raise HTTPException(404, "No referral has this id.") from None
    except handlers.NotYourReferral:
        raise HTTPException(403, "This token may not acknowledge this referral.") from None
    return Response(status_code=204)


async def _known_agency(agency: str) -> str:
    if agency not in AGENCIES:
        raise HTTPException(404, "No agency has this name.")
    return agency


KnownAgency = Annotated[str, Depends(_known_agency)]


async def _subscriber_of(principal: Subscriber, agency: KnownAgency) -> str:
    if not principal.may(f"subscriptions:write:{agency}"):
        raise HTTPException(403, f"This token may not change the subscription of '{agency}'.")
    return agency


AgencyOfToken = Annotated[str, Depends(_subscriber_of)]
"""The path's agency, whose `subscriptions:write:<agency>` the token holds."""


@router.put(
    "/subscriptions/{agency}",
    tags=["subscriptions"],
    response_model=Subscribed,
    summary="Subscribe an agency's webhook",
    responses={404: {"description": "Unknown agency"}, **PROBLEMS},
)
async def subscribe(
    principal: Subscriber, agency: AgencyOfToken, body: Subscription, notify: NotifyDep
) -> Subscribed:
    """From now on each new referral for the agency is also POSTed to `webhook_url`, signed
    with `secret`; a new PUT replaces the subscription for referrals made after it (each
    delivery keeps the subscription it was made under). The URL must be `https://` and
    name no loopback, private, link-local, multicast, reserved or cloud-metadata address,
    nor a host resolving to one: 422 otherwise."""
    url = str(body.webhook_url)
    try:
        await handlers.subscribe(
            notify, agency, url, body.secret, principal.subject, body.written_url
        )
    except handlers.RefusedUrl as exc:
        raise FieldErrors([{"loc": ["body", "webhook_url"], "msg": str(exc)}]) from None
    return Subscribed(agency=agency, webhook_url=url)


@router.delete(
    "/subscriptions/{agency}",
    tags=["subscriptions"],
    status_code=204,
    summary="Remove an agency's webhook",
    responses={404: {"description": "Unknown agency, or no subscription"}, **PROBLEMS},
)
async def unsubscribe(principal: Subscriber, agency: AgencyOfToken, notify: NotifyDep) -> Response:
    """Stop POSTing the agency's referrals (they stay on its topic and in GET): its
    pending deliveries become `cancelled`."""
    if not await handlers.unsubscribe(notify, agency, principal.subject):
        raise HTTPException(404, "This agency has no subscription.")
    return Response(status_code=204)


@router.post(
    "/referrals/{referral_id}/redeliver",
    tags=["subscriptions"],
    status_code=202,
    summary="Queue a referral's webhook delivery again",
    responses={
        404: {"description": "Unknown referral"},
        409: {
            "description": "Delivered already, the agency has no subscription, or the"
            " delivery has no webhook of its own"
        },
        **PROBLEMS,
    },
)
async def redeliver(
    principal: Subscriber,
    referral_id: UUID,
    notify: NotifyDep,
    body: RedeliveryTarget | None = None,
) -> Response:
    """Queue a `dead`, `failed` or `cancelled` delivery again, with a fresh retry schedule
    (scope `subscriptions:write:<the referral's agency>`): to the URL and secret it was made
    under, or to the agency's current subscription when the body says `"to": "current"`."""
    to_current = body is not None and body.to == "current"
    try:
        await handlers.redeliver(notify, str(referral_id), principal, to_current)
    except handlers.UnknownReferral:
        raise HTTPException(404, "No referral has this id.") from None
    except handlers.NotYourReferral:
        raise HTTPException(403, "This token may not redeliver this referral.") from None
    except handlers.AlreadyDelivered:
        raise HTTPException(409, "This referral was delivered.") from None
    except handlers.NoSubscription:
        raise HTTPException(409, "The referral's agency has no subscription.") from None
    except handlers.NoWebhookOfItsOwn:
        raise HTTPException(
            409, 'This delivery had no webhook of its own: ask for "to": "current".'
        ) from None
    return Response(status_code=202)


@router.post(
    "/subscriptions/{agency}/redeliver",
    tags=["subscriptions"],
    status_code=202,
    response_model=Queued,
    summary="Queue an agency's dead deliveries again",
    responses={
        404: {"description": "Unknown agency"},
        409: {"description": "The agency has no subscription"},
        **PROBLEMS,
    },
)
async def redeliver_dead(
    principal: Subscriber, agency: AgencyOfToken, body: Redelivery, notify: NotifyDep
) -> Queued:
    """Queue again every `dead` delivery of the agency whose referral was made at or after
    `since`: each to the URL and secret it was made under, or all to the current
    subscription when the body says `"to": "current"`."""
    try:
        queued = await handlers.redeliver_dead(
            notify, agency, body.since, principal.subject, body.to == "current"
        )
    except handlers.NoSubscription:
        raise HTTPException(409, "This agency has no subscription.") from None
    return Queued(queued=queued)
