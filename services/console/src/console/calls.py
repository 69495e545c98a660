"""What the console asks of notify, marac, perpetrators and records: one page of a list at a time
(its cursor carried in the page's address), a record by id found by following the
pages, and CSV exports streamed through."""

from __future__ import annotations

from typing import Any

import httpx

from console.domain.people import Person
from console.upstream import NotFound, Page, Upstream, segments


class Calls(Upstream):
    """The console's calls to the owning services' APIs (sections 5, 6 and 10), each as
    the signed-in person, each id in the path as an encoded segment."""

    # notify (contract section 5)

    async def inbox(self, person: Person, agency: str, after: str | None = None) -> Page:
        """One page of the agency's referrals, newest first within the page."""
        found = await self.page("notify", "/v1/referrals", person, {"agency": agency}, after)
        ordered = sorted(found.items, key=lambda r: str(r.get("created_at", "")), reverse=True)
        return Page(ordered, found.after)

    async def referral(
        self, person: Person, agency: str, referral_id: str, incident_id: str | None = None
    ) -> dict[str, Any]:
        """One referral; knowing its incident, only that incident's records are read."""
        params = {"agency": agency, "incident_id": incident_id or ""}
        async for record in self.every("notify", "/v1/referrals", person, params):
            if record.get("referral_id") == referral_id:
                return record
        raise NotFound("notify")

    async def acknowledge(self, person: Person, referral_id: str) -> None:
        path = segments("v1", "referrals", referral_id, "ack")
        await self.call("notify", "POST", path, person)

    # marac (contract section 6)

    async def meetings(self, person: Person, area: str | None, after: str | None = None) -> Page:
        return await self.page("marac", "/v1/meetings", person, {"area": area or ""}, after)

    async def meeting(self, person: Person, meeting_id: str) -> dict[str, Any]:
        async for meeting in self.every("marac", "/v1/meetings", person):
            if meeting.get("meeting_id") == meeting_id:
                return meeting
        raise NotFound("marac")

    async def meeting_cases(
        self, person: Person, meeting_id: str, after: str | None = None
    ) -> Page:
        path = segments("v1", "meetings", meeting_id, "cases")
        return await self.page("marac", path, person, None, after)

    async def meeting_csv(self, person: Person, meeting_id: str) -> httpx.Response:
        path = segments("v1", "meetings", meeting_id, "cases.csv")
        return await self.stream("marac", path, person)

    async def waiting(self, person: Person, area: str, after: str | None = None) -> Page:
        params = {"area": area, "status": "awaiting_meeting"}
        return await self.page("marac", "/v1/cases", person, params, after)

    # perpetrators (contract section 10)

    async def perpetrators(self, person: Person, area: str, after: str | None = None) -> Page:
        return await self.page("perpetrators", "/v1/perpetrators", person, {"area": area}, after)

    # records (contract section 12)

    async def records_of(
        self, person: Person, search: dict[str, str], after: str | None = None
    ) -> Page:
        """One page of the entries about a person, oldest first (the search's body holds
        a person id or names and a date of birth: never in an address or a log)."""
        return await self.page(
            "records", "/v1/records/search", person, None, after, search, scope="records:read"
        )
