"""A MARAC referral from an agency (SafeLives' referral form): the rules a form must meet
beyond its fields' own types, and what a case keeps of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from marac.domain.cases import Party, ReferralFacts

DASH_THRESHOLD = 14
"""SafeLives: visible high risk is 14 or more "yes" answers on the DASH RIC."""


@dataclass(frozen=True)
class Refusal:
    """One field that breaks a rule of the form: where, and why."""

    loc: tuple[str, ...]
    msg: str


def refusals(
    criteria: Sequence[str],
    dash_answers: Mapping[str, bool] | None,
    judgement_reason: str | None,
    consent: str,
    consent_reason: str | None,
) -> list[Refusal]:
    """Every rule of domain.md "Any agency refers" the form breaks (none: it may go on).

    - visible high risk needs the DASH, and then at least 14 yes answers;
    - professional judgement needs its reason;
    - consent not given (or not sought) needs its reason: high risk overrides consent,
      but the referrer must say why.
    """
    found: list[Refusal] = []
    if len(set(criteria)) != len(criteria):
        found.append(Refusal(("body", "criteria"), "must name each criterion once"))
    if "visible_high_risk" in criteria:
        if dash_answers is None:
            found.append(Refusal(("body", "dash"), "is required with visible_high_risk"))
        elif dash_score(dash_answers) < DASH_THRESHOLD:
            found.append(
                Refusal(
                    ("body", "dash", "answers"),
                    f"visible_high_risk needs at least {DASH_THRESHOLD} yes answers",
                )
            )
    if "professional_judgement" in criteria and not (judgement_reason or "").strip():
        found.append(
            Refusal(
                ("body", "professional_judgement_reason"),
                "is required with professional_judgement",
            )
        )
    if consent != "given" and not (consent_reason or "").strip():
        found.append(Refusal(("body", "consent_reason"), "is required unless consent is given"))
    return found


def dash_score(answers: Mapping[str, bool]) -> int:
    """The DASH score: the number of yes answers."""
    return sum(1 for yes in answers.values() if yes)


def referral_facts(
    marac_referral_id: str,
    agency: str,
    reference: str,
    received_at: datetime,
    criteria: Sequence[str],
    dash_answers: Mapping[str, bool] | None,
    children_count: int,
    victim: Party,
    perpetrator: Party | None,
    victim_person_id: str | None,
) -> ReferralFacts:
    """What the case keeps of a referral (the first perpetrator stands as the suspect)."""
    return ReferralFacts(
        marac_referral_id=marac_referral_id,
        referring_agency=agency,
        referral_ref=reference,
        received_at=received_at,
        criteria=tuple(criteria),
        dash_score=dash_score(dash_answers) if dash_answers is not None else None,
        children_count=children_count,
        victim=victim,
        suspect=perpetrator,
        victim_person_id=victim_person_id,
    )
