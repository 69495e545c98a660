"""The owning services' APIs, called on behalf of the signed-in person.

Each call is made as the person, in one of two ways, chosen by the scope the call needs
(`scope=`, or else the route's: `console.scopes`):
- a scope a console may pass on: a two-minute bearer token for the person's subject and
  those of their scopes, signed with the console's own key (issuer `mash-console`) for
  the one service called;
- a scope no console may pass on (`shared.auth.CONSOLE_NEVER`: `records:read`,
  `triage:policy`, `subscriptions:write:*`): the person's own access token from the
  identity provider, forwarded unchanged, and only to a service its `aud` names. Without
  one (expired, never issued, refused by the service), `SignInAgain`: the page asks the
  person to sign in again.
Either way each service checks, answers and audits the call as that person's: the console
adds no access of its own, and its key opens none of `CONSOLE_NEVER`'s scopes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from console.config import Settings
from console.domain.people import Person
from console.inputs import CURSOR
from console.scopes import forwards, scope_of
from shared.auth import CONSOLE_TTL, console_may_delegate, mint
from shared.keys import SigningKey
from shared.service import Platform

TOKEN_TTL = CONSOLE_TTL
MAX_PAGES = 50
"""A lookup by id follows at most this many pages (5,000 records at the default size)."""


class Refused(Exception):
    """The service refused the person (401/403)."""


class SignInAgain(Refused):
    """The call needs the person's own access token (a scope no console may pass on), and
    there is none that the service accepts: never issued, expired, not for this service,
    or refused by it."""


class NotFound(Exception):
    """The service knows no such thing (404)."""


class Rejected(Exception):
    """The service refused the request as asked (another 4xx): shown as what it is, with
    the problem's detail."""

    def __init__(
        self, service: str, status: int, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(service, status, detail)
        self.service = service
        self.status = status
        self.detail = detail
        self.errors = errors or []
        """A 422's problem details `errors` (`loc`, `msg`): which field, and what is wrong."""


class Invalid(Rejected):
    """The service refused a body field by field (422 with `errors`): a form shows each
    error beside its field."""

    def __init__(self, service: str, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(service, 422, detail)
        self.errors = errors


class Unavailable(Exception):
    """The service did not answer, or answered with an error."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


@dataclass(frozen=True)
class Page:
    """One page of a service's list, and the cursor of the next (None on the last)."""

    items: list[dict[str, Any]]
    after: str | None = None


def segments(*parts: str) -> str:
    """A path from its segments, each percent-encoded whole: a value can never add a
    segment, a query or a fragment (`..`, `/`, `?`, `#`, control characters)."""
    return "".join("/" + quote(part, safe="") for part in parts)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail)[:300] if detail else f"the request was refused ({response.status_code})."


def _field_errors(response: httpx.Response) -> list[dict[str, Any]]:
    """A 422's `errors` (contract section 2): each `{"loc": [...], "msg": "..."}` kept."""
    try:
        body = response.json()
    except ValueError:
        return []
    found = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(found, list):
        return []
    return [
        {"loc": list(e["loc"]), "msg": str(e.get("msg", ""))[:300]}
        for e in found
        if isinstance(e, dict) and isinstance(e.get("loc"), list)
    ][:50]


def _check(service: str, response: httpx.Response, forwarded: bool = False) -> None:
    status = response.status_code
    if forwarded and status == 401:  # the person's own token is over or was revoked
        raise SignInAgain(service)
    if status in (401, 403):
        raise Refused(service)
    if status == 404:
        raise NotFound(service)
    if status == 422 and (errors := _field_errors(response)):
        raise Invalid(service, _detail(response), errors)
    if 400 <= status < 500:
        raise Rejected(service, status, _detail(response), _field_errors(response))
    if status >= 400:
        raise Unavailable(service)


class Upstream:
    """An HTTP client for the owning services (notify, marac, perpetrators, records, triage),
    opened in the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        self.page_size = settings.page_size
        self._key: SigningKey | None = None
        self.bases = {
            "notify": settings.notify_url.rstrip("/"),
            "marac": settings.marac_url.rstrip("/"),
            "perpetrators": settings.perpetrators_url.rstrip("/"),
            "records": settings.records_url.rstrip("/"),
            "triage": settings.triage_url.rstrip("/"),
        }

    async def start(self, _: Platform[Settings]) -> None:
        self._key = SigningKey.load(self._settings.signing_key_path)
        self._client = httpx.AsyncClient(timeout=self._settings.upstream_timeout_seconds)

    async def stop(self, _: Platform[Settings]) -> None:
        if self._client:
            await self._client.aclose()

    def _headers(self, person: Person, service: str, scope: str | None = None) -> dict[str, str]:
        """The bearer for a call to `service` needing `scope` (None: one a console may
        pass on): the person's own token for a scope no console may pass on, otherwise
        a token of the console's for the delegable ones."""
        if forwards(scope):
            own = person.own_token
            if own is None or not own.serves(service, datetime.now(UTC)):
                raise SignInAgain(service)
            return {"Authorization": f"Bearer {own.token}"}
        assert self._key is not None, "upstream client not started"
        scopes = [s for s in person.scopes if console_may_delegate(s)]
        issuer = self._settings.hub.console_issuer
        token = mint(self._key, person.subject, scopes, TOKEN_TTL, issuer, audience=[service])
        return {"Authorization": f"Bearer {token}"}

    def _request(
        self,
        service: str,
        method: str,
        path: str,
        person: Person,
        params: dict[str, str] | None,
        body: dict[str, Any] | None = None,
        scope: str | None = None,
    ) -> tuple[httpx.Request, bool]:
        """The request, and whether it forwards the person's own token."""
        assert self._client is not None, "upstream client not started"
        needed = scope_of(service, path, scope)
        request = self._client.build_request(
            method,
            self.bases[service] + path,
            params={k: v for k, v in (params or {}).items() if v},
            headers=self._headers(person, service, needed),
            json=body,
        )
        return request, forwards(needed)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        person: Person,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        *,
        scope: str | None = None,
    ) -> httpx.Response:
        """One request as the person; refusals, absences and failures as exceptions.
        `path` is built with `segments` from anything that came from a request; `scope`
        is what the call needs, when no console may pass it on (see `console.scopes`)."""
        assert self._client is not None, "upstream client not started"
        request, forwarded = self._request(service, method, path, person, params, body, scope)
        try:
            response = await self._client.send(request)
        except httpx.HTTPError:
            raise Unavailable(service) from None
        _check(service, response, forwarded)
        return response

    async def stream(
        self,
        service: str,
        path: str,
        person: Person,
        params: dict[str, str] | None = None,
        *,
        scope: str | None = None,
    ) -> httpx.Response:
        """A GET whose body is read as it comes (a CSV export); the caller closes it."""
        assert self._client is not None, "upstream client not started"
        request, forwarded = self._request(service, "GET", path, person, params, None, scope)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError:
            raise Unavailable(service) from None
        if response.status_code >= 400:
            try:
                await response.aread()
            except httpx.HTTPError:
                raise Unavailable(service) from None
            finally:
                await response.aclose()
            _check(service, response, forwarded)
        return response

    async def page(
        self,
        service: str,
        path: str,
        person: Person,
        params: dict[str, str] | None = None,
        after: str | None = None,
        body: dict[str, Any] | None = None,
        limit: int | None = None,
        *,
        scope: str | None = None,
    ) -> Page:
        """One page of a list (contract section 2: `limit`, `after`, `Link: rel="next"`);
        with a body, the list is a search's answer (a POST)."""
        size = min(limit, self.page_size) if limit else self.page_size
        asked = {**(params or {}), "limit": str(size), "after": after or ""}
        method = "GET" if body is None else "POST"
        response = await self.call(service, method, path, person, asked, body, scope=scope)
        try:
            items = response.json()
        except ValueError:
            raise Unavailable(service) from None
        if not isinstance(items, list):
            raise Unavailable(service)
        return Page(items, _next_cursor(service, response))

    async def every(
        self,
        service: str,
        path: str,
        person: Person,
        params: dict[str, str] | None = None,
        *,
        body: dict[str, Any] | None = None,
        scope: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every record of a list (with a body, a search's answer), following each page's
        next link (at most MAX_PAGES)."""
        after: str | None = None
        for _ in range(MAX_PAGES):
            found = await self.page(service, path, person, params, after, body, scope=scope)
            for item in found.items:
                yield item
            if found.after is None:
                return
            after = found.after

    async def json(
        self,
        service: str,
        path: str,
        person: Person,
        params: dict[str, str] | None = None,
        *,
        scope: str | None = None,
    ) -> Any:
        return (await self.call(service, "GET", path, person, params, scope=scope)).json()


def _next_cursor(service: str, response: httpx.Response) -> str | None:
    """The cursor of the next page from `Link: <...>; rel="next"`: only a link to the same
    service and path is followed, and its cursor must be a short opaque token."""
    link = response.links.get("next", {}).get("url")
    if not link:
        return None
    asked = response.request.url
    target = asked.join(link)
    if (target.scheme, target.host, target.port, target.path) != (
        asked.scheme,
        asked.host,
        asked.port,
        asked.path,
    ):
        raise Unavailable(service)
    values = parse_qs(urlsplit(str(target)).query).get("after", [])
    if len(values) != 1 or not CURSOR.match(values[0]):
        raise Unavailable(service)
    return values[0]
