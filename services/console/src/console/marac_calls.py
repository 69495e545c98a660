"""What the MARAC pages ask of marac (contract section 6, "The meeting itself"): each call
as the signed-in person, each id in a path as an encoded segment, every list a page at a
time. Kept beside `calls.py` rather than in it, so the pages of the meeting are one slice."""

from __future__ import annotations

from typing import Any

import httpx

from console.domain.people import Person
from console.upstream import NotFound, Page, Upstream, segments

MEETING_PAGE = 20
"""Cases per page of the meeting page, each read whole (sources, research, actions):
about one meeting's worth (SafeLives: some 16 cases a meeting)."""


async def refer(upstream: Upstream, person: Person, body: dict[str, Any]) -> tuple[str, bool]:
    """Send an agency's referral; its id, and whether it is new (202) or known (200).
    A 422 raises `Invalid` with the errors field by field."""
    answer = await upstream.call("marac", "POST", "/v1/marac-referrals", person, body=body)
    return str(answer.json()["marac_referral_id"]), answer.status_code == 202


async def referral(upstream: Upstream, person: Person, referral_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await upstream.json(
        "marac", segments("v1", "marac-referrals", referral_id), person
    )
    return found


async def case(upstream: Upstream, person: Person, case_id: str) -> dict[str, Any]:
    """A case with its sources, research and actions."""
    found: dict[str, Any] = await upstream.json("marac", segments("v1", "cases", case_id), person)
    return found


async def meeting_cases(
    upstream: Upstream, person: Person, meeting_id: str, after: str | None
) -> Page:
    """One page of a meeting's list in agenda order, each case read whole."""
    path = segments("v1", "meetings", meeting_id, "cases")
    listed = await upstream.page("marac", path, person, None, after, limit=MEETING_PAGE)
    whole = [await case(upstream, person, str(c["case_id"])) for c in listed.items]
    return Page(whole, listed.after)


async def put_research(
    upstream: Upstream, person: Person, case_id: str, agency: str, body: dict[str, Any]
) -> None:
    path = segments("v1", "cases", case_id, "research", agency)
    await upstream.call("marac", "PUT", path, person, body=body)


async def research_history(
    upstream: Upstream, person: Person, case_id: str, agency: str, after: str | None
) -> Page:
    """One page of an agency's research on a case, the latest version first."""
    path = segments("v1", "cases", case_id, "research", agency, "history")
    return await upstream.page("marac", path, person, None, after)


async def agree_action(
    upstream: Upstream, person: Person, case_id: str, body: dict[str, Any]
) -> None:
    await upstream.call(
        "marac", "POST", segments("v1", "cases", case_id, "actions"), person, body=body
    )


async def actions(
    upstream: Upstream,
    person: Person,
    agency: str | None,
    status: str | None,
    area: str | None,
    after: str | None,
) -> Page:
    params = {"agency": agency or "", "status": status or "", "area": area or ""}
    return await upstream.page("marac", "/v1/actions", person, params, after)


async def action(upstream: Upstream, person: Person, agency: str, action_id: str) -> dict[str, Any]:
    """One of an agency's actions, found by following the pages of its list."""
    async for found in upstream.every("marac", "/v1/actions", person, {"agency": agency}):
        if found.get("action_id") == action_id:
            return found
    raise NotFound("marac")


async def complete_action(upstream: Upstream, person: Person, action_id: str, outcome: str) -> None:
    path = segments("v1", "actions", action_id, "complete")
    await upstream.call("marac", "POST", path, person, body={"outcome": outcome})


async def national_return(
    upstream: Upstream, person: Person, area: str, quarter: str
) -> httpx.Response:
    """The SafeLives return as marac streams it; the caller closes the answer."""
    params = {"area": area, "quarter": quarter}
    return await upstream.stream("marac", "/v1/returns/safelives.csv", person, params)
