"""The owning services' APIs, called on behalf of the signed-in person.

Each call carries a two-minute bearer token for the person's own subject and scopes,
signed with the console's own key (issuer `mash-console`) for the one service called, so
each service checks, answers and audits the read as that person's: the console adds no
access of its own, and passes on only the scopes a console may (`shared.auth.CONSOLE_NEVER`).
"""

from __future__ import annotations

from typing import Any

import httpx

from console.config import Settings
from console.domain.people import Person
from shared.auth import CONSOLE_TTL, console_may_delegate, mint
from shared.keys import SigningKey
from shared.service import Platform

TOKEN_TTL = CONSOLE_TTL


class Refused(Exception):
    """The service refused the person (401/403)."""


class NotFound(Exception):
    """The service knows no such thing (404)."""


class Unavailable(Exception):
    """The service did not answer, or answered with an error."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class Upstream:
    """An HTTP client for notify, marac and perpetrators, opened in the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        self._key: SigningKey | None = None
        self.bases = {
            "notify": settings.notify_url.rstrip("/"),
            "marac": settings.marac_url.rstrip("/"),
            "perpetrators": settings.perpetrators_url.rstrip("/"),
        }

    async def start(self, _: Platform[Settings]) -> None:
        self._key = SigningKey.load(self._settings.signing_key_path)
        self._client = httpx.AsyncClient(timeout=self._settings.upstream_timeout_seconds)

    async def stop(self, _: Platform[Settings]) -> None:
        if self._client:
            await self._client.aclose()

    def _headers(self, person: Person, service: str) -> dict[str, str]:
        assert self._key is not None, "upstream client not started"
        scopes = [s for s in person.scopes if console_may_delegate(s)]
        issuer = self._settings.platform.console_issuer
        token = mint(self._key, person.subject, scopes, TOKEN_TTL, issuer, audience=[service])
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        person: Person,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request as the person; refusals, absences and failures as exceptions."""
        assert self._client is not None, "upstream client not started"
        try:
            response = await self._client.request(
                method,
                self.bases[service] + path,
                params={k: v for k, v in (params or {}).items() if v},
                headers=self._headers(person, service),
            )
        except httpx.HTTPError:
            raise Unavailable(service) from None
        if response.status_code in (401, 403):
            raise Refused(service)
        if response.status_code == 404:
            raise NotFound(service)
        if response.status_code >= 400:
            raise Unavailable(service)
        return response

    async def json(
        self, service: str, path: str, person: Person, params: dict[str, str] | None = None
    ) -> Any:
        return (await self.call(service, "GET", path, person, params)).json()

    # notify (contract section 5)

    async def inbox(
        self, person: Person, agency: str, incident_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The agency's referrals (of one incident, when given), newest first."""
        params = {"agency": agency, "incident_id": incident_id or ""}
        records: list[dict[str, Any]] = await self.json("notify", "/v1/referrals", person, params)
        return sorted(records, key=lambda r: str(r.get("created_at", "")), reverse=True)

    async def referral(
        self, person: Person, agency: str, referral_id: str, incident_id: str | None = None
    ) -> dict[str, Any]:
        """One referral; knowing its incident, only that incident's records are read."""
        for record in await self.inbox(person, agency, incident_id):
            if record.get("referral_id") == referral_id:
                return record
        raise NotFound("notify")

    async def acknowledge(self, person: Person, referral_id: str) -> None:
        await self.call("notify", "POST", f"/v1/referrals/{referral_id}/ack", person)

    # marac (contract section 6)

    async def meetings(self, person: Person, area: str | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.json(
            "marac", "/v1/meetings", person, {"area": area or ""}
        )
        return found

    async def meeting(self, person: Person, meeting_id: str) -> dict[str, Any]:
        for meeting in await self.meetings(person, None):
            if meeting.get("meeting_id") == meeting_id:
                return meeting
        raise NotFound("marac")

    async def meeting_cases(self, person: Person, meeting_id: str) -> list[dict[str, Any]]:
        cases: list[dict[str, Any]] = await self.json(
            "marac", f"/v1/meetings/{meeting_id}/cases", person
        )
        return cases

    async def meeting_csv(self, person: Person, meeting_id: str) -> httpx.Response:
        return await self.call("marac", "GET", f"/v1/meetings/{meeting_id}/cases.csv", person)

    async def waiting(self, person: Person, area: str) -> list[dict[str, Any]]:
        cases: list[dict[str, Any]] = await self.json(
            "marac", "/v1/cases", person, {"area": area, "status": "awaiting_meeting"}
        )
        return cases

    # perpetrators (contract section 10)

    async def perpetrators(self, person: Person, area: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.json(
            "perpetrators", "/v1/perpetrators", person, {"area": area}
        )
        return found
