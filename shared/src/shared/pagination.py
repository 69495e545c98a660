"""Bounded reads (contract section 2): every list endpoint answers one page at a time.

`?limit=` (1 to 500, default 100) and `?after=<cursor>`, the opaque position the previous
page ended at. The body stays a JSON array; when there is a next page, the answer carries
`Link: <next>; rel="next"` (RFC 8288), the same path and query with `after` replaced.

Keyset, never OFFSET: a list is ordered by its documented sort key plus a unique
tie-breaker; a page fetches `limit + 1` rows strictly after the cursor's key (`keyset`), so
a row added or removed between pages neither repeats nor skips another. The cursor is that
key, signed (HMAC-SHA256) with a key derived from the platform's pseudonym key, the
service's name and the list's route: every replica accepts it, and a forged cursor, or one
another service or list issued, answers 422.

    @router.get("/v1/things")
    async def things(platform: PlatformDep, page: PageDep, response: Response) -> list[Thing]:
        async with platform.uow() as session:
            rows = await repository.things(session, page.after, page.fetch)
        return page.answer(response, rows, lambda t: (t.created_at, t.thing_id))
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from sqlalchemy import ColumnElement, and_, or_

from shared.errors import FieldErrors

MIN_LIMIT = 1
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
MAX_CURSOR = 1024
"""Characters; a cursor holds a sort key and a tie-breaker, far less than this."""

LIMIT_DESCRIPTION = (
    f"How many records a page holds: {MIN_LIMIT} to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
    ' The answer carries `Link: <next page>; rel="next"` while more remain.'
)
AFTER_DESCRIPTION = (
    "Where the page starts: the opaque cursor of the previous page's `Link` header. Absent"
    " for the first page. A cursor this list did not issue answers 422."
)

PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One page of the list",
        "headers": {
            "Link": {
                "description": 'The next page, `<URL>; rel="next"` (RFC 8288); absent on the'
                " last page.",
                "schema": {"type": "string"},
            }
        },
    }
}
"""The OpenAPI `responses` entry of a list route: the `Link` header of its pages."""

Row = TypeVar("Row")
Key = tuple[Any, ...]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _plain(value: Any) -> Any:
    """A sort key's value as JSON: dates and times tagged, so they come back as such."""
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "dt" in value:
            return datetime.fromisoformat(value["dt"])
        if "d" in value:
            return date.fromisoformat(value["d"])
    if isinstance(value, (dict, list)):
        raise ValueError("not a sort key")
    return value


class Cursors:
    """Signs and reads the cursors of one list (`scope`) of one service."""

    def __init__(self, secret: str, service: str, scope: str) -> None:
        self._key = hmac.new(
            secret.encode(), f"mash-cursor\x00{service}".encode(), hashlib.sha256
        ).digest()
        self._scope = scope

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, self._scope.encode() + b"\x00" + body, hashlib.sha256).digest()

    def issue(self, key: Sequence[Any]) -> str:
        """The cursor of a page that ends at the row whose sort key is `key`."""
        body = json.dumps([_plain(v) for v in key], separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(self._sign(body)[:18])}"

    def read(self, cursor: str) -> Key:
        """The sort key a cursor names; ValueError if this list did not issue it."""
        try:
            body_part, _, mac_part = cursor.partition(".")
            body, mac = _unb64(body_part), _unb64(mac_part)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("not a cursor") from exc
        if not mac or not hmac.compare_digest(mac, self._sign(body)[:18]):
            raise ValueError("not a cursor this list issued")
        values = json.loads(body)
        if not isinstance(values, list) or not values:
            raise ValueError("not a sort key")
        return tuple(_typed(v) for v in values)


def _bad_cursor(detail: str) -> FieldErrors:
    return FieldErrors([{"loc": ["query", "after"], "msg": detail}])


@dataclass(frozen=True)
class Page:
    """One request's page: its size, where it starts, and the means to say where the next
    one does. The cursor is read when the route asks (`after`), after authentication."""

    limit: int
    cursor: str | None
    request: Request
    cursors: Cursors

    @property
    def after(self) -> Key | None:
        """The sort key the page starts after (None: the first page); 422 for a cursor this
        list did not issue."""
        if self.cursor is None:
            return None
        try:
            return self.cursors.read(self.cursor)
        except (ValueError, TypeError) as exc:
            raise _bad_cursor(str(exc) if isinstance(exc, ValueError) else "not a cursor") from exc

    @property
    def fetch(self) -> int:
        """How many rows to read: one more than the page, to learn whether more remain."""
        return self.limit + 1

    def next_url(self, key: Sequence[Any]) -> str:
        """The next page: this request's path and query, `after` replaced. Relative (RFC 3986
        section 4.2 reference): never built from the Host header a client sent."""
        query = [(k, v) for k, v in self.request.query_params.multi_items() if k != "after"]
        query.append(("after", self.cursors.issue(key)))
        return f"{self.request.url.path}?{urlencode(query)}"

    def answer(
        self, response: Response, rows: Sequence[Row], key: Callable[[Row], Key]
    ) -> list[Row]:
        """The page's rows (`rows` fetched with `fetch`), with a `Link` to the next page when
        there is one."""
        shown = list(rows[: self.limit])
        if len(rows) > self.limit and shown:
            response.headers["Link"] = f'<{self.next_url(key(shown[-1]))}>; rel="next"'
        return shown


async def page(
    request: Request,
    limit: Annotated[
        int, Query(ge=MIN_LIMIT, le=MAX_LIMIT, description=LIMIT_DESCRIPTION)
    ] = DEFAULT_LIMIT,
    after: Annotated[
        str | None, Query(max_length=MAX_CURSOR, description=AFTER_DESCRIPTION)
    ] = None,
) -> Page:
    """A FastAPI dependency: the page a list route answers (422 names `limit` or `after`)."""
    platform = request.app.state.platform
    scope = getattr(request.scope.get("route"), "path", None) or request.url.path
    cursors = Cursors(platform.settings.hub.pseudonym_key, platform.name, scope)
    return Page(limit, after, request, cursors)


PageDep = Annotated[Page, Depends(page)]


def keyset(order: Sequence[tuple[Any, bool]], key: Sequence[Any]) -> ColumnElement[bool]:
    """The rows strictly after `key` in `order`, a list of (column, descending) pairs whose
    last column is unique: `a < k0 OR (a = k0 AND b > k1) ...`, for any mix of directions.
    The columns must not be NULL (wrap a nullable one in `coalesce`)."""
    if len(key) != len(order):
        raise _bad_cursor("not a cursor this list issued")
    clauses = []
    for i, (column, descending) in enumerate(order):
        ties = [c == v for (c, _), v in zip(order[:i], key[:i], strict=True)]
        step = column < key[i] if descending else column > key[i]
        clauses.append(and_(*ties, step))
    return or_(*clauses)


def seek(rows: Iterable[Row], key: Callable[[Row], Key], after: Key | None) -> list[Row]:
    """The rows after `after`, for a list whose order is computed in memory (a MARAC
    agenda's priority is derived from the case's incidents): `key` gives ascending tuples
    (a descending field negated) ending in a unique id, and `rows` are sorted by it. The
    same keyset rule as `keyset`, for lists whose whole is bounded by nature."""
    if after is None:
        return list(rows)
    try:
        return [row for row in rows if key(row) > after]
    except TypeError as exc:  # a key of another shape: not a cursor of this list
        raise _bad_cursor("not a cursor this list issued") from exc
