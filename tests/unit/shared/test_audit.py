"""`shared.audit`: the `mash.audit.read` event of one read, as contract section 7 has it."""

from __future__ import annotations

from datetime import UTC, datetime

from shared import envelope
from shared.audit import audit_key, read_event
from shared.schemas import AuditRead
from shared.topics import ALL_TOPICS, AUDIT, AUDIT_READ, PERPETRATORS

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def test_a_read_event_names_who_when_where_and_which_ids_and_nothing_else() -> None:
    event = read_event(
        service="perpetrators",
        sub="pc-1234",
        route="/v1/perpetrators/{perpetrator_id}",
        resource="perpetrator",
        ids=["abc"],
        status=200,
        now=NOW,
    )
    assert event.type == AUDIT_READ
    assert event.source == "/mash/perpetrators"
    assert event.subject == "abc"
    assert dict(event.data) == {
        "at": "2026-11-21T09:30:00Z",
        "sub": "pc-1234",
        "service": "perpetrators",
        "route": "/v1/perpetrators/{perpetrator_id}",
        "resource": "perpetrator",
        "ids": ["abc"],
        "status": 200,
    }
    assert AuditRead.model_validate(event.data).ids == ["abc"]
    # and it is a CloudEvent every consumer can read back
    parsed = envelope.parse(event.headers(), event.value())
    assert (parsed.type, parsed.subject, dict(parsed.data)) == (AUDIT_READ, "abc", event.data)


def test_a_list_read_is_subject_to_its_resource_whatever_the_number_of_ids() -> None:
    for ids in ([], ["a", "b"]):
        event = read_event(
            service="s", sub="x", route="/v1/things", resource="thing", ids=ids, status=200, now=NOW
        )
        assert event.subject == "thing"
        assert event.data["ids"] == ids


def test_an_overlong_id_or_reader_still_makes_a_readable_event() -> None:
    event = read_event(
        service="s", sub="x", route="/r", resource="thing", ids=["i" * 100], status=404, now=NOW
    )
    assert len(event.subject) == 64
    envelope.parse(event.headers(), event.value())
    assert audit_key("reader") == "reader"
    assert len(audit_key("r" * 500)) == 64


def test_the_audit_and_perpetrator_topics_are_created_with_the_others() -> None:
    assert {AUDIT, PERPETRATORS} <= set(ALL_TOPICS)
