"""Pagination of the records lists (contract section 2): `limit` 1-500 (default 100),
an opaque `after` cursor signed by the service (any other is 422), `Link: rel="next"`.

A stand-in until `shared.pagination` (branch `relay-pages`) lands: the routes depend only
on `PageDep`, `PageQuery.position` and `next_link`, so the swap is this module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from records.domain.chain import instant
from records.repository import Position
from shared.errors import FieldErrors

MAX_LIMIT = 500


@dataclass(frozen=True)
class PageQuery:
    limit: int
    position: Position | None


def _key(request: Request) -> bytes:
    secret: str = request.app.state.platform.settings.platform.jwt_secret
    return hashlib.sha256(f"records.cursor:{secret}".encode()).digest()


def _sign(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]


def cursor(key: bytes, position: Position) -> str:
    body = f"{instant(position.at)}|{position.id}"
    token = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{token}.{_sign(key, body)}"


def position_of(key: bytes, token: str) -> Position | None:
    """The position a cursor of ours names; None for anything we did not issue."""
    data, _, signature = token.partition(".")
    try:
        body = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()
        if not hmac.compare_digest(_sign(key, body), signature):
            return None
        at, _, row = body.partition("|")
        return Position(datetime.fromisoformat(at), int(row))
    except ValueError:  # bad base64, text, time or number
        return None


def page(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Entries a page")] = 100,
    after: Annotated[str | None, Query(max_length=200, description="From the Link")] = None,
) -> PageQuery:
    if after is None:
        return PageQuery(limit, None)
    found = position_of(_key(request), after)
    if found is None:
        raise FieldErrors([{"loc": ["query", "after"], "msg": "not a cursor of this list"}])
    return PageQuery(limit, found)


PageDep = Annotated[PageQuery, Depends(page)]


def next_link(request: Request, position: Position) -> str:
    """The `Link` header value of the next page: this request's URL, `after` the last."""
    url = request.url.include_query_params(after=cursor(_key(request), position))
    return f'<{url}>; rel="next"'
