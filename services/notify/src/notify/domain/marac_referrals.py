"""The IDVA service's referral for an agency's MARAC referral (domain.md: "MARAC and IDVA
together"), minimised by IDVA's row of the information-sharing table like any other.

A MARAC referral is not an incident: each row IDVA's view grants is rendered from what
the referral form has (`RENDERINGS`), and a row the form does not ask about (the
relationship and abuse types) contributes nothing. The agreement itself stays in
`sharing.VIEWS`: a grant IDVA gains that has no rendering here is an error, not a silent
omission.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from notify.domain.clocks import ClockPolicy, due_by
from notify.domain.projections import Fragment, merge
from notify.domain.referrals import VICTIM, NewReferral
from notify.domain.sharing import VIEWS, Grant, Row
from shared.identity import age_on
from shared.schemas import Person
from shared.schemas.marac import MaracReferralForIdva

AGENCY = "idva"
REASON = "marac_referral"
RISK_LEVEL = "high"
"""A case goes to MARAC because its victim is at high risk (SafeLives): the referral to
IDVA says so, as an eligible decision's does."""


@dataclass(frozen=True)
class MaracSource:
    """What IDVA's referral is made from: the MARAC referral, and where its dates are local."""

    referral: MaracReferralForIdva
    timezone: ZoneInfo

    @property
    def safe_to_contact(self) -> bool:
        contact = self.referral.victim.contact
        return bool(contact and contact.safe_to_contact)


def _identity(person: Person | None) -> Fragment | None:
    if person is None:
        return None
    return person.model_dump(mode="json", include={"given_name", "family_name", "date_of_birth"})


def _referral(s: MaracSource) -> Fragment:
    """The "incident" row for a referral: which referral, from whom, when, where, the risk."""
    r = s.referral
    return {
        "marac_referral_id": str(r.marac_referral_id),
        "referring_agency": r.referring_agency,
        "received_at": r.received_at.isoformat(),
        "area": r.area,
        "risk_level": RISK_LEVEL,
    }


def _address(s: MaracSource) -> Fragment:
    address = s.referral.victim.address
    if address is None:
        return {}  # absent, not null
    return {"victim": {"address": address.model_dump(mode="json", exclude_none=True)}}


def _contact(s: MaracSource) -> Fragment:
    if not s.safe_to_contact:
        return {}
    contact = s.referral.victim.contact
    given = {"phone": contact.phone, "email": contact.email} if contact else {}
    return {"victim": {"contact": {k: v for k, v in given.items() if v is not None}}}


def _children(s: MaracSource) -> Fragment:
    day = s.referral.received_at.astimezone(s.timezone).date()
    born = s.referral.children_born
    return {
        "children_count": len(born),
        "children_ages": [age_on(b, day) if b else None for b in born],
    }


def _dash_score(s: MaracSource) -> Fragment:
    answers = s.referral.dash_answers
    return {"dash_score": sum(answers.values()) if answers is not None else None}


def _dash_answers(s: MaracSource) -> Fragment:
    answers = s.referral.dash_answers
    return {"dash_answers": dict(sorted(answers.items())) if answers is not None else None}


RENDERINGS: Mapping[tuple[Row, Grant], Callable[[MaracSource], Fragment]] = {
    ("incident", "yes"): _referral,
    ("victim_identity", "yes"): lambda s: {"victim": _identity(s.referral.victim)},
    ("victim_address", "yes"): _address,
    ("victim_contact", "if_safe_to_contact"): _contact,
    ("suspect", "yes"): lambda s: {"suspect": _identity(s.referral.suspect)},
    ("circumstances", "yes"): lambda s: {},  # the form asks neither relationship nor abuse
    ("children", "count_and_ages"): _children,
    ("dash_score", "yes"): _dash_score,
    ("dash_answers", "yes"): _dash_answers,
    ("flags", "yes"): lambda s: {"marac_criteria": list(s.referral.criteria)},
}


def minimise_referral(source: MaracSource) -> Fragment:
    """IDVA's referral data: the rows IDVA's view grants, rendered from the referral, plus
    `safe_to_contact`. KeyError when the view grants something no rendering covers."""
    data: Fragment = {}
    for row, grant in VIEWS[AGENCY].items():
        merge(data, RENDERINGS[(row, grant)](source))
    data["safe_to_contact"] = source.safe_to_contact
    return data


def wanted(referral: MaracReferralForIdva) -> bool:
    """Whether IDVA is to be referred: unless the IDVA service made the MARAC referral."""
    return referral.referring_agency != AGENCY


def idva_referral(
    referral: MaracReferralForIdva, timezone: ZoneInfo, clocks: ClockPolicy, now: datetime
) -> NewReferral:
    """The IDVA referral, due by IDVA's clock (24 hours) from `now`."""
    return NewReferral(
        agency=AGENCY,
        subject=VICTIM,
        reason=REASON,
        data=minimise_referral(MaracSource(referral, timezone)),
        deliver_after=now,
        review_due_at=None,
        due_by=due_by(AGENCY, REASON, now, now, clocks),
    )
