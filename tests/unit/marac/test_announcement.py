"""`mash.marac.case_listed` carries ids, keys and facts only (contract section 7): the
victim as the hub's pseudonymous keys, which triage matches, never a name or a birthday."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

from marac.domain.cases import Party
from marac.domain.listing import announcement
from shared.identity import from_keys, identify, same_person
from shared.schemas import Person
from tests.unit.marac.builders import case, facts

SECRET = "k"


def listed(**victim: Any) -> dict[str, Any]:
    incident = facts(
        str(uuid4()),
        victim=Party("Zephyrine", "Quillfeather", date(1983, 7, 19)),
        suspect=Party("Borislav", "Grimthorpe", date(1979, 11, 23)),
        **victim,
    )
    return {"case_id": str(uuid4()), "meeting_id": str(uuid4()), "incidents": (incident,)}


def test_a_listing_names_nobody() -> None:
    data = announcement(case(**listed(victim_person_id="N7734521")), SECRET)
    text = data.model_dump_json()
    for personal in ("Zephyrine", "Quillfeather", "1983-07-19", "Borislav", "N7734521"):
        assert personal not in text
    assert set(data.model_dump()) == {
        "case_id",
        "meeting_id",
        "meeting_date",
        "area",
        "incident_ids",
        "criteria",
        "risk_level",
        "dash_score",
        "repeat",
        "priority",
        "victim_keys",
        "children_count",
        "listed_at",
        "marac_referral_ids",  # agencies' referrals the case gathers: ids only
    }


def test_triage_knows_the_listed_victim_by_their_keys() -> None:
    data = announcement(case(**listed(victim_person_id="N7734521")), SECRET)
    victim = Person.model_validate({"person_id": "N7734521", "given_name": "Z", "family_name": "Q"})
    assert same_person(from_keys(data.victim_keys), identify(SECRET, victim))
    # without a person id, by names and date of birth
    data = announcement(case(**listed()), SECRET)
    victim = Person.model_validate(
        {"given_name": "ZEPHYRINE", "family_name": "Quillfeather", "date_of_birth": "1983-07-19"}
    )
    assert data.victim_keys.person_id is None
    assert same_person(from_keys(data.victim_keys), identify(SECRET, victim))
    assert not same_person(from_keys(data.victim_keys), identify("other", victim))
