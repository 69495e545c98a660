"""The IDVA service's referral for an agency's MARAC referral: IDVA's row of the sharing
table, rendered from the referral form; due in 24 hours; none for IDVA's own referral."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notify.domain.clocks import ClockPolicy
from notify.domain.marac_referrals import (
    RENDERINGS,
    MaracSource,
    idva_referral,
    minimise_referral,
    wanted,
)
from notify.domain.sharing import VIEWS
from shared.schemas.marac import MaracReferralForIdva
from tests.unit.notify.builders import LONDON, data_for

RECEIVED = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def referral(**overrides: Any) -> MaracReferralForIdva:
    data: dict[str, Any] = {
        "marac_referral_id": str(uuid.uuid4()),
        "case_id": str(uuid.uuid4()),
        "area": "southampton",
        "referring_agency": "health",
        "criteria": ["visible_high_risk", "potential_escalation"],
        "received_at": RECEIVED.isoformat(),
        "victim": {
            "person_id": "N100001",
            "given_name": "Victimgiven",
            "family_name": "Victimfamily",
            "date_of_birth": "1990-04-01",
            "address": {"lines": ["1 Hiddenway Street"], "postcode": "SO14 7DU"},
            "contact": {"phone": "07700 900111", "email": "v@example.org", "safe_to_contact": True},
        },
        "suspect": {"given_name": "Suspectgiven", "family_name": "Suspectfamily"},
        "children_born": ["2014-12-01", None],
        "dash_answers": {f"q{i}": i <= 15 for i in range(1, 25)},
    }
    data.update(overrides)
    return MaracReferralForIdva.model_validate(data)


def test_every_grant_of_idvas_view_has_a_rendering_for_a_referral() -> None:
    assert set(VIEWS["idva"].items()) <= set(RENDERINGS)


def test_idvas_referral_has_idvas_fields_only_as_for_an_incident() -> None:
    """The same rows as an incident's IDVA referral: the incident's id and time become the
    MARAC referral's (and who referred); relationship, abuse types and flags the form does
    not have are absent."""
    data = minimise_referral(MaracSource(referral(), LONDON))
    from_incident = set(data_for("idva"))
    incident_only = {"incident_id", "reported_at", "relationship", "abuse_types", "flags"}
    referral_only = {"marac_referral_id", "referring_agency", "received_at"}
    assert set(data) == (from_incident - incident_only) | referral_only
    assert set(data["victim"]) == {
        "given_name",
        "family_name",
        "date_of_birth",
        "address",
        "contact",
    }
    assert data["victim"]["contact"] == {"phone": "07700 900111", "email": "v@example.org"}
    assert data["suspect"] == {
        "given_name": "Suspectgiven",
        "family_name": "Suspectfamily",
        "date_of_birth": None,
    }
    assert (data["children_count"], data["children_ages"]) == (2, [11, None])
    assert (data["dash_score"], len(data["dash_answers"])) == (15, 24)
    assert data["marac_criteria"] == ["visible_high_risk", "potential_escalation"]
    assert (data["risk_level"], data["referring_agency"], data["area"]) == (
        "high",
        "health",
        "southampton",
    )
    assert data["safe_to_contact"] is True


def test_no_contact_details_unless_safe_and_no_dash_without_one() -> None:
    victim = {"given_name": "A", "family_name": "B", "contact": {"phone": "0770 900"}}
    data = minimise_referral(
        MaracSource(referral(victim=victim, dash_answers=None, suspect=None), LONDON)
    )
    assert data["victim"] == {"given_name": "A", "family_name": "B", "date_of_birth": None}
    assert data["safe_to_contact"] is False
    assert (data["dash_score"], data["dash_answers"], data["suspect"]) == (None, None, None)


def test_an_equality_block_cannot_ride_on_the_referral() -> None:
    with pytest.raises(ValueError, match="equality"):
        referral(victim={"given_name": "A", "family_name": "B", "equality": {"sex": "female"}})


@pytest.mark.parametrize(("agency", "expected"), [("health", True), ("idva", False)])
def test_idva_is_referred_unless_it_referred(agency: str, expected: bool) -> None:
    assert wanted(referral(referring_agency=agency)) is expected


def test_the_referral_is_due_in_24_hours_for_its_reason() -> None:
    now = RECEIVED + timedelta(seconds=3)
    made = idva_referral(referral(), LONDON, ClockPolicy(), now)
    assert (made.agency, made.subject, made.reason) == ("idva", "victim", "marac_referral")
    assert made.due_by == now + timedelta(hours=24)
    assert made.deliver_after == now
    assert made.review_due_at is None
