"""The one identity rule (domain.md "Identity") every service uses: normalised names,
identities strongest first, keyed pseudonyms, who is the same person, the victim's Kafka
key, and age on a day."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from shared.identity import (
    Identity,
    age_on,
    from_keys,
    identify,
    identities,
    keyed_identities,
    keys_of_fields,
    normalise_name,
    pseudonym,
    same_person,
    victim_key,
)
from shared.schemas import Person
from shared.schemas.v1 import VictimKeys


def victim(**changes: Any) -> Person:
    """The victim of tests.builders' incident body, with `changes` (None removes a field)."""
    fields: dict[str, Any] = {
        "person_id": "N100001",
        "given_name": "Alex",
        "family_name": "Testperson",
        "date_of_birth": "1990-04-01",
    }
    fields.update(changes)
    return Person.model_validate({k: v for k, v in fields.items() if v is not None})


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("O'Brien-Smith", "obriensmith"),
        ("ZOË", "zoe"),
        ("  Anne Marie ", "annemarie"),
        ("Łukasz", "łukasz"),
        ("123", ""),
    ],
)
def test_names_normalise_to_case_folded_letters(raw: str, normal: str) -> None:
    assert normalise_name(raw) == normal


def test_a_person_is_known_by_id_first_then_names_and_birth_date_else_not_at_all() -> None:
    dob = date(1990, 4, 1)
    assert identities("n1", "Al", "Ex", dob) == ["pid:N1", "ndob:al|ex|1990-04-01"]
    assert identities(None, "Al", "Ex", dob) == ["ndob:al|ex|1990-04-01"]
    assert identities("n1", "Al", "Ex", None) == ["pid:N1"]
    assert identities(None, "Al", "Ex", None) == []
    assert identities(None, "!!", "Ex", dob) == []


def test_a_pseudonym_is_stable_keyed_and_reveals_nothing() -> None:
    key = pseudonym("k1", "ndob:al|ex|1990-04-01")
    assert key == pseudonym("k1", "ndob:al|ex|1990-04-01")
    assert key != pseudonym("k2", "ndob:al|ex|1990-04-01")
    assert len(key) == 64
    assert "1990" not in key


def test_the_victim_key_is_a_keyed_hash_without_personal_data() -> None:
    key = victim_key("secret", victim(), uuid.uuid4())
    assert len(key) == 64
    for personal in ("N100001", "Alex", "Testperson", "1990"):
        assert personal.lower() not in key.lower()
    assert key == victim_key("secret", victim(), uuid.uuid4())  # same victim, same key
    assert key != victim_key("another secret", victim(), uuid.uuid4())


def test_the_same_victim_without_person_id_matches_by_names_and_birth_date() -> None:
    with_names = victim(person_id=None)
    shouted = victim(person_id=None, given_name="ALEX", family_name="Test-Person")
    assert victim_key("s", with_names, uuid.uuid4()) == victim_key("s", shouted, uuid.uuid4())


def test_an_unidentifiable_victim_gets_a_key_of_their_own_incident() -> None:
    anonymous = victim(person_id=None, date_of_birth=None)
    first, second = uuid.uuid4(), uuid.uuid4()
    assert victim_key("s", anonymous, first) == victim_key("s", anonymous, first)
    assert victim_key("s", anonymous, first) != victim_key("s", anonymous, second)


def test_victim_key_is_the_strongest_identity_or_the_incident() -> None:
    """The key is the pseudonym of the person id, else of names and date of birth."""
    assert victim_key("k", victim(), "i") == pseudonym("k", "pid:N100001")
    without_id = victim(person_id=None)
    assert victim_key("k", without_id, "i") == pseudonym("k", "ndob:alex|testperson|1990-04-01")
    nobody = victim(person_id=None, date_of_birth=None)
    assert victim_key("k", nobody, "i1") != victim_key("k", nobody, "i2")


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2008, 2, 29), date(2026, 2, 28), 17),  # leap-day birthdays come on 1 March
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2008, 2, 29), date(2028, 2, 29), 20),
        (date(2000, 1, 1), date(2017, 12, 31), 17),
        (date(2014, 12, 1), date(2026, 11, 18), 11),
        (date(2014, 11, 18), date(2026, 11, 18), 12),
        (date(2020, 2, 29), date(2026, 2, 28), 5),
        (date(2026, 1, 1), date(2026, 11, 18), 0),
    ],
)
def test_age_in_whole_years(born: date, on: date, age: int) -> None:
    assert age_on(born, on) == age


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
    assert same_person(from_keys(keys), identify("k", person(person_id="N1")))
    assert not same_person(from_keys(keys), identify("k", person(person_id="N2")))


@pytest.mark.parametrize(
    "changes",
    [{}, {"person_id": None}, {"date_of_birth": None}, {"person_id": None, "date_of_birth": None}],
)
def test_keys_given_field_by_field_are_the_identitys_hashes(changes: dict[str, Any]) -> None:
    """A search form's fields, or a record read back as JSON, find the keys an entry about
    the same person was logged with (records' searches and its partner reads)."""
    person = victim(**changes)
    fields = keys_of_fields(
        "k" * 32, person.person_id, person.given_name, person.family_name, person.date_of_birth
    )
    assert fields == identify("k" * 32, person).hashes
