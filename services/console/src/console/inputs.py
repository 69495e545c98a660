"""What the console takes from a request, checked before anything uses it.

Each check answers as the page should: an id that is not a UUID names nothing (404), a
date outside the calendar the hub serves or a cursor that is not a short opaque token is
a 400 with a clear message, a form token that is not exactly the session's is a 403, and
a place to go after sign-in that is not a path on this site is `/`.
"""

from __future__ import annotations

import hmac
import re
from datetime import date
from urllib.parse import unquote, urlsplit
from uuid import UUID

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
EARLIEST_BIRTH = date(1900, 1, 1)
CURSOR = re.compile(r"^[A-Za-z0-9._~=+/:-]{1,1024}$")
"""A page cursor: the services issue signed base64url tokens of up to 1,024 characters."""
MAX_TOKEN = 256


class NotFoundPage(Exception):
    """Nothing at this address."""


class BadRequest(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def identifier(value: str | None) -> str:
    """A path's id as the canonical UUID the services use; anything else names nothing."""
    if not value or len(value) != 36:
        raise NotFoundPage
    try:
        canonical = str(UUID(value))
    except ValueError:
        raise NotFoundPage from None
    if canonical != value.lower():
        raise NotFoundPage
    return canonical


def day(value: str | None, what: str) -> date | None:
    """A date from the address (`2026-11-21`), within 2000-01-01 to 2100-12-31."""
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value) if value.isascii() and len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise BadRequest(f"'{what}' must be a date like 2026-11-21.")
    if not EARLIEST <= parsed <= LATEST:
        raise BadRequest(f"'{what}' must be between 1 January 2000 and 31 December 2100.")
    return parsed


def cursor(value: str | None) -> str | None:
    """A service's page cursor carried in the address: an opaque short token, or none."""
    if value is None or value == "":
        return None
    if not CURSOR.match(value):
        raise BadRequest("'after' is not a page of this list. Go back to the first page.")
    return value


def text_field(value: str, limit: int = 100) -> str | None:
    """A form's free text (a name, an id) without surrounding spaces; None when too long
    or holding a control character."""
    value = value.strip()
    if len(value) > limit or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        return None
    return value


def same_token(expected: str, submitted: object) -> bool:
    """A form's CSRF token is the session's: compared as bytes in constant time, after
    checking it is a short ASCII string of the right length (anything else is simply
    wrong, never an error)."""
    if not isinstance(submitted, str) or not submitted or len(submitted) > MAX_TOKEN:
        return False
    if not submitted.isascii() or len(submitted) != len(expected):
        return False
    return hmac.compare_digest(submitted.encode("ascii"), expected.encode("ascii"))


def _unsafe(text: str) -> bool:
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch == "\\" for ch in text)


def local(target: str | None) -> str:
    """Where to go after sign-in: a path on this site exactly as given, or `/`.

    Browsers remove tabs and newlines from a URL and read a backslash as a slash, so
    `/\\t/evil.example` or `/\\\\evil.example` would leave the site: any control character
    or backslash, raw or percent-encoded, refuses the target, as does anything with a
    scheme or a host, or a path that starts with `//`."""
    if not target or len(target) > 500 or not target.startswith("/"):
        return "/"
    decoded = unquote(target)
    if _unsafe(target) or _unsafe(decoded) or decoded.startswith("//"):
        return "/"
    try:
        parts = urlsplit(target)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return "/"
    if parts.path.startswith("//") or unquote(parts.path).startswith("//"):
        return "/"
    return target
