"""What a partner's consumed record is logged as: whose group, which kind of record, its
id and the people's keys (records.partners, records.offsets), without a broker."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import MetaData

from records.offsets import Consumed, _gaps, item_of, readable, resource_of
from records.partners import PARTNER_PREFIXES, partner_offsets_table, recipient_of
from shared.audit import Item, person_keys
from shared.schemas import Person
from shared.topics import (
    DECISIONS,
    INCIDENTS,
    MARAC,
    PERPETRATORS,
    audit_topic,
    referrals_topic,
)

SECRET = "unit-secret"
IDVA = referrals_topic("idva")


def person(tag: str, person_id: str | None = None) -> Person:
    return Person(
        person_id=person_id,
        given_name=f"Given{tag}",
        family_name=f"Family{tag}",
        date_of_birth=date(1990, 4, 1),
    )


def shown(p: Person) -> dict[str, Any]:
    """A person as a minimised record shows them: names and date of birth, no id."""
    return p.model_dump(mode="json", exclude={"person_id"})


def record(value: Any, key: str | None = None, offset: int = 7) -> Consumed:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return Consumed(2, offset, key.encode() if key else None, raw)


def logged(topic: str, consumed: Consumed) -> Item:
    item = item_of(SECRET, topic, consumed)
    assert item is not None
    return item


@pytest.mark.parametrize(
    ("group", "recipient"),
    [
        ("idva.caseworkers", "idva"),
        ("school.dsl-inbox", "school"),
        ("childrens-social-care.front-door", "childrens-social-care"),
        ("neighbourhood-team.briefing", "neighbourhood-team"),
        ("ops.replay", "ops"),
        ("mash-records", None),  # records' own group: not a partner's
        ("mash-notify", None),
        ("idva.", None),
        ("idvas.caseworkers", None),
    ],
)
def test_a_group_belongs_to_the_partner_of_its_prefix(group: str, recipient: str | None) -> None:
    assert recipient_of(group) == recipient


def test_the_partners_are_the_groups_records_may_describe() -> None:
    assert {p[:-1] for p in PARTNER_PREFIXES} >= {"idva", "school", "neighbourhood-team", "ops"}


@pytest.mark.parametrize(
    ("topic", "resource", "can_read"),
    [
        (IDVA, "referral", True),
        (referrals_topic("school"), "referral", True),
        (PERPETRATORS, "perpetrator", True),
        (audit_topic("notify"), "records", True),
        (INCIDENTS, "incident", False),
        (DECISIONS, "decision", False),
        (MARAC, "marac_case", False),
    ],
)
def test_each_topic_has_its_kind_of_record(topic: str, resource: str, can_read: bool) -> None:
    assert resource_of(topic) == resource
    assert readable(topic) is can_read


def test_a_referral_is_logged_by_its_id_with_every_key_of_its_people() -> None:
    victim, suspect, child = person("V", "PV1"), person("S"), person("C")
    referral_id = str(uuid.uuid4())
    data = {"victim": shown(victim), "suspect": shown(suspect), "children": [shown(child)]}
    value = {"referral_id": referral_id, "agency": "idva", "data": data}
    victim_key = person_keys(SECRET, victim)[0]  # the Kafka key: their person id's

    item = logged(IDVA, record(value, key=victim_key))

    assert item.id == referral_id
    wanted = [
        *person_keys(SECRET, victim),
        *person_keys(SECRET, suspect),
        *person_keys(SECRET, child),
    ]
    assert sorted(item.subjects) == sorted(wanted)
    assert len(item.subjects) == 4  # the victim's two keys, one each for the others


def test_a_referral_without_names_is_logged_by_its_key_alone() -> None:
    item = logged(IDVA, record({"referral_id": "r-1", "data": {}}, key="k" * 64))
    assert (item.id, item.subjects) == ("r-1", ("k" * 64,))


def test_a_perpetrator_is_logged_by_its_id_and_the_key_of_its_person() -> None:
    suspect = person("P")
    item = logged(PERPETRATORS, record({"perpetrator_id": "p" * 32, "person": shown(suspect)}))
    assert (item.id, item.subjects) == ("p" * 32, tuple(person_keys(SECRET, suspect)))


def test_a_log_entry_is_logged_by_its_id_and_its_subjects() -> None:
    entry_id = str(uuid.uuid4())
    item = logged(audit_topic("notify"), record({"entry_id": entry_id, "subjects": ["a", "b"]}))
    assert (item.id, item.subjects) == (entry_id, ("a", "b"))


@pytest.mark.parametrize("value", [b"not json", b"[1, 2]", {"referral_id": 12}, {"data": {}}])
def test_a_record_that_cannot_be_read_is_logged_by_its_position(value: Any) -> None:
    item = logged(IDVA, record(value, offset=41))
    assert item.id == f"{IDVA}:2:41-41"


def test_offsets_the_log_no_longer_holds_are_logged_as_ranges() -> None:
    assert _gaps(0, 10, [3, 4, 8]) == [(0, 2), (5, 7), (9, 9)]
    assert _gaps(5, 8, [5, 6, 7]) == []
    assert _gaps(5, 8, []) == [(5, 7)]


def test_the_logged_ranges_are_keyed_so_a_range_is_logged_once() -> None:
    table = partner_offsets_table(MetaData())
    assert [c.name for c in table.primary_key.columns] == [
        "group_id",
        "topic",
        "partition",
        "from_offset",
    ]


def test_records_own_entries_of_partners_consumption_are_not_logged_again() -> None:
    """Ops consuming records' log: logging that it read the entries of its own reading
    would make an entry for it to read next, forever. Records' other entries are logged."""
    own = {"entry_id": str(uuid.uuid4()), "operation": "consulted", "via": "topic"}
    assert item_of(SECRET, audit_topic("records"), record(own)) is None
    by_api = {**own, "via": "api"}
    assert logged(audit_topic("records"), record(by_api)).id == by_api["entry_id"]
    assert logged(audit_topic("notify"), record(own)).id == own["entry_id"]
