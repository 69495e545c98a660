"""A signed-in person: who, which of the hub's scopes, until when, and their own access
token from the identity provider (kept for what the console may not pass on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class OwnToken:
    """The person's own access token, as their identity provider issued it at sign-in.

    The console forwards it, unchanged, for a call needing a scope no console may pass on
    (`shared.auth.CONSOLE_NEVER`), and only to a service it names in `aud`: the service
    then judges the person's own grant, not the console's. Never in a repr, a log or a
    page."""

    token: str = field(repr=False)
    audience: frozenset[str]
    expires_at: datetime

    def serves(self, service: str, now: datetime) -> bool:
        """Whether it may be sent to `service` now."""
        return service in self.audience and now < self.expires_at


@dataclass(frozen=True)
class Person:
    subject: str
    scopes: frozenset[str]
    csrf_token: str
    method: str
    """`link` (a one-time sign-in link) or `oidc`."""
    signed_in_at: datetime
    expires_at: datetime
    own_token: OwnToken | None = field(default=None, repr=False, compare=False)
    """Their own access token while it lasts (None: none was issued, or it is over)."""

    def may(self, *any_of: str) -> bool:
        return any(scope in self.scopes for scope in any_of)

    def may_read_referrals(self, agency: str) -> bool:
        return self.may(f"referrals:read:{agency}", "referrals:read:*")

    def may_acknowledge(self, agency: str) -> bool:
        return self.may(f"referrals:ack:{agency}")

    def agencies(self, known: tuple[str, ...]) -> list[str]:
        """The agencies whose inbox this person may read."""
        return [a for a in known if self.may_read_referrals(a)]


def new_person(
    subject: str,
    scopes: frozenset[str],
    method: str,
    csrf_token: str,
    now: datetime,
    lifetime: timedelta,
) -> Person:
    """A session that ends `lifetime` after sign-in."""
    return Person(subject, scopes, csrf_token, method, now, now + lifetime)
