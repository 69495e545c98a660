"""The identity rule over keyed hashes (`domain/identity.py`): who is the same person."""

from __future__ import annotations

import pytest

from shared.identity import keyed_identities
from shared.schemas import Person
from shared.schemas.v1 import VictimKeys
from triage.domain.identity import Identity, identify, listed_victim, same_person


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (Identity("p1", "n1"), Identity("p1", "n2"), True),  # same person id decides
        (Identity("p1", "n1"), Identity("p2", "n1"), False),  # two ids are two people
        (Identity("p1", "n1"), Identity(None, "n1"), True),  # one without id: names + dob
        (Identity(None, "n1"), Identity(None, "n1"), True),
        (Identity(None, "n1"), Identity(None, "n2"), False),
        (Identity("p1", None), Identity(None, "n1"), False),
        (Identity(), Identity(), False),  # nobody matches the unidentifiable
        (Identity("p1", None), Identity("p1", None), True),
    ],
)
def test_identity_rule(a: Identity, b: Identity, same: bool) -> None:
    assert same_person(a, b) is same
    assert same_person(b, a) is same


def person(**fields: object) -> Person:
    return Person.model_validate({"given_name": "Alex", "family_name": "Example", **fields})


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (person(person_id="N1"), person(person_id="n1", given_name="Other"), True),
        (
            person(given_name="Zoë", family_name="O'Brien", date_of_birth="1990-01-01"),
            person(given_name="ZOE", family_name="obrien", date_of_birth="1990-01-01"),
            True,
        ),
        (
            person(date_of_birth="1990-01-01"),
            person(date_of_birth="1990-01-02"),
            False,
        ),
        (person(), person(), False),  # names alone match nobody
    ],
)
def test_people_are_matched_by_their_pseudonyms(a: Person, b: Person, same: bool) -> None:
    assert same_person(identify("k", a), identify("k", b)) is same


def test_pseudonyms_hide_the_identity_and_depend_on_the_key() -> None:
    found = identify("k", person(person_id="N1", date_of_birth="1990-01-01"))
    assert found.person_id
    assert "N1" not in found.person_id
    assert found != identify("other-key", person(person_id="N1", date_of_birth="1990-01-01"))


def test_a_marac_listed_victims_keys_match_the_incident_victim() -> None:
    # marac publishes keys, not the person (contract section 7): made by the shared rule
    by_id, by_names = keyed_identities("k", "N1", "X", "Y", None)
    keys = VictimKeys(person_id=by_id, names_dob=by_names)
    assert same_person(listed_victim(keys), identify("k", person(person_id="N1")))
    assert not same_person(listed_victim(keys), identify("k", person(person_id="N2")))
