"""`shared.audit`: the log entries of section 12, as contract section 7 carries them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared import envelope
from shared.audit import Entry, Item, entries, items, keys_of, person_keys
from shared.identity import identities, pseudonym
from shared.schemas import AuditEntry, Person
from shared.topics import ALL_TOPICS, AUDITED_SERVICES, audit_topic

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
READ = Entry("perpetrators", "consulted", "pc-1234", "api", "/v1/perpetrators/{id}", "perpetrator")


def test_an_entry_names_who_when_how_and_which_ids_and_nothing_else() -> None:
    [event] = entries(READ, [Item("abc", ("k1", "k2"))], NOW)
    assert event.type == "mash.audit.consulted"
    assert event.source == "/mash/perpetrators"
    assert event.subject == "abc"
    data = dict(event.data)
    assert data.pop("entry_id") == event.id
    assert data == {
        "at": "2026-11-21T09:30:00Z",
        "service": "perpetrators",
        "operation": "consulted",
        "sub": "pc-1234",
        "via": "api",
        "route": "/v1/perpetrators/{id}",
        "resource": "perpetrator",
        "ids": ["abc"],
        "subjects": ["k1", "k2"],
        "recipient": None,
        "status": "ok",
    }
    parsed = envelope.parse(event.headers(), event.value())
    assert AuditEntry.model_validate(parsed.data).ids == ["abc"]


def test_a_read_that_found_nothing_is_still_one_entry() -> None:
    [event] = entries(READ, [], NOW)
    assert event.data["ids"] == []
    assert event.subject == "perpetrator"


def test_a_large_operation_is_several_entries_of_at_most_500_ids_covering_every_id() -> None:
    found = items((f"r{i}" for i in range(1201)), ["k"])
    events = entries(READ, found, NOW)
    assert [len(e.data["ids"]) for e in events] == [500, 500, 201]
    assert [i for e in events for i in e.data["ids"]] == [f"r{i}" for i in range(1201)]
    assert all(e.data["subjects"] == ["k"] for e in events)
    assert len({e.id for e in events}) == 3
    # each entry stays far below the broker's 1 MiB
    assert max(len(e.value()) for e in events) < 64 * 1024


def test_many_people_split_an_entry_before_its_subjects_pass_their_bound() -> None:
    found = [Item(f"r{i}", (f"a{i}", f"b{i}")) for i in range(800)]
    events = entries(READ, found, NOW)
    assert all(len(e.data["subjects"]) <= 1500 for e in events)
    assert sum(len(e.data["ids"]) for e in events) == 800
    for event in events:  # each entry carries the keys of exactly its own records
        ids = {int(i[1:]) for i in event.data["ids"]}
        assert set(event.data["subjects"]) == {f"{p}{i}" for i in ids for p in "ab"}


def test_a_persons_keys_are_the_identity_rules_keys() -> None:
    person = Person(
        person_id="n123", given_name="Ann", family_name="Smith", date_of_birth=date(1990, 4, 1)
    )
    keys = person_keys("s", person)
    assert keys == tuple(
        pseudonym("s", i) for i in identities("n123", "Ann", "Smith", person.date_of_birth)
    )
    assert len(keys) == 2
    nameless = Person(given_name="Ann", family_name="Smith")
    assert person_keys("s", nameless) == ()
    assert keys_of("s", [person, None, person]) == keys


def test_every_service_has_its_own_log_topic_created_with_the_others() -> None:
    assert {audit_topic(s) for s in AUDITED_SERVICES} <= set(ALL_TOPICS)
    assert audit_topic("notify") == "mash.audit.notify.v1"
