"""A signed-in person: who, which of the hub's scopes, and until when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Person:
    subject: str
    scopes: frozenset[str]
    csrf_token: str
    method: str
    """`link` (a one-time sign-in link) or `oidc`."""
    signed_in_at: datetime
    expires_at: datetime

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
