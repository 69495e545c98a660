"""Who gets a referral: the routing table, and a list that only ever grows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.schemas.v1 import Agency, Child, RiskLevel
from triage.domain.policy import Route


@dataclass(frozen=True)
class Referral:
    """One referral of the incident: to an agency, about a subject (the victim or a child)."""

    agency: Agency
    reason: str
    subject: str = "victim"

    @property
    def key(self) -> tuple[str, str]:
        return (self.agency, self.subject)


def route(
    routes: Sequence[Route],
    level: RiskLevel,
    flags: Sequence[str],
    marac_eligible: bool,
    children: Sequence[Child],
) -> list[Referral]:
    """The referrals the routing table calls for: the first route that holds per agency
    and subject gives the reason."""
    found: dict[tuple[str, str], Referral] = {}
    for rule in routes:
        for subject in _subjects(rule, level, flags, marac_eligible, children):
            referral = Referral(rule.agency, rule.reason, subject)
            found.setdefault(referral.key, referral)
    return list(found.values())


def _subjects(
    rule: Route,
    level: RiskLevel,
    flags: Sequence[str],
    marac_eligible: bool,
    children: Sequence[Child],
) -> list[str]:
    kind, _, value = rule.when.partition(":")
    if rule.when == "child_with_school":
        return [f"child:{i}" for i, child in enumerate(children) if child.school_urn]
    holds = (
        (kind == "level" and value == level)
        or (kind == "flag" and value in flags)
        or (rule.when == "marac_eligible" and marac_eligible)
    )
    return ["victim"] if holds else []


def grow(earlier: Sequence[Referral], now: Sequence[Referral]) -> list[Referral]:
    """Earlier referrals stay (never withdrawn, never sent twice); new ones are added."""
    known = {referral.key for referral in earlier}
    return [*earlier, *(referral for referral in now if referral.key not in known)]
