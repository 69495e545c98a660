"""A perpetrator's pseudonym (`domain/perpetrator.py`): stable, from the strongest identity,
and unlinkable to the same person's Kafka key as a victim."""

from __future__ import annotations

from perpetrators.domain.perpetrator import perpetrator_id
from shared.identity import Identity, identify, victim_key
from shared.schemas import Person

SECRET = "k"


def test_the_pseudonym_is_stable_and_follows_the_strongest_hash() -> None:
    both = Identity(person_id="pid-1", names_dob="ndob-1")
    assert perpetrator_id(SECRET, both) == perpetrator_id(SECRET, Identity("pid-1", "other"))
    assert perpetrator_id(SECRET, both) != perpetrator_id(SECRET, Identity(None, "ndob-1"))
    assert perpetrator_id(SECRET, both) != perpetrator_id("another-secret", both)
    assert len(perpetrator_id(SECRET, both)) == 32


def test_a_suspect_here_and_a_victim_elsewhere_cannot_be_linked() -> None:
    person = Person.model_validate({"person_id": "N7734521", "given_name": "Z", "family_name": "Q"})
    as_suspect = perpetrator_id(SECRET, identify(SECRET, person))
    as_victim = victim_key(SECRET, person, "incident-1")
    assert as_suspect not in as_victim
    assert "N7734521" not in as_suspect
