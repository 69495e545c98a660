"""The hash chain: canonical JSON, each link's hash, and the first break a walk finds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from datetime import timedelta, timezone

from records.domain.chain import (
    GENESIS,
    START,
    Break,
    Link,
    canonical,
    chain,
    index_of,
    link_hash,
    walk,
)
from tests.unit.records.builders import chained, record


def test_canonical_json_has_sorted_keys_no_spaces_and_utc_microseconds() -> None:
    text = canonical(record(0)).decode()
    body = json.loads(text)
    assert list(body) == sorted(body)
    assert " " not in text.replace("referral-0", "")
    assert body["at"] == "2026-12-01T09:30:00.000000Z"
    assert body["ids"] == ["referral-0"]
    assert body["recipient"] == "idva"


def test_canonical_json_holds_every_field_of_the_entry_as_the_entry_has_it() -> None:
    entry = record(3, sub="agent-é", status="refused")
    body = json.loads(canonical(entry))
    expected = {**asdict(entry), "at": "2026-12-01T09:33:00.000000Z"}  # record(3): 3 min on
    expected |= {"ids": list(entry.ids), "subjects": list(entry.subjects)}
    assert body == expected


def test_canonical_json_is_utf8_not_escaped() -> None:
    text = canonical(record(0, sub="agent-é")).decode("utf-8")
    assert "agent-é" in text
    assert "\\u" not in text


def test_the_same_instant_in_another_offset_is_the_same_entry() -> None:
    entry = record(0)
    elsewhere = replace(entry, at=entry.at.astimezone(timezone(timedelta(hours=5))))
    naive = replace(entry, at=entry.at.replace(tzinfo=None))  # as SQLite hands it back
    assert canonical(entry) == canonical(elsewhere) == canonical(naive)


def test_a_status_code_and_its_text_differ() -> None:
    assert canonical(record(0, status=200)) != canonical(record(0, status="200"))


def test_hash_is_sha256_of_the_previous_hex_and_the_canonical_json() -> None:
    entry = record(0)
    expected = hashlib.sha256(GENESIS.encode() + canonical(entry)).hexdigest()
    assert link_hash(GENESIS, entry) == expected
    first = chain(START, entry)
    assert (first.seq, first.prev_hash, first.hash) == (1, GENESIS, expected)
    second = chain(Link(1, first.hash), record(1))
    assert second.prev_hash == first.hash
    assert second.hash == hashlib.sha256(first.hash.encode() + canonical(record(1))).hexdigest()


def test_an_intact_chain_walks_to_its_end() -> None:
    entries = chained(5)
    assert walk("notify", START, entries) == Link(5, entries[-1].hash)
    assert walk("notify", START, []) == START


def test_a_chain_walks_on_from_a_checkpoint() -> None:
    entries = chained(5)
    assert walk("notify", Link(2, entries[1].hash), entries[2:]) == Link(5, entries[-1].hash)


def test_a_changed_entry_is_the_first_break() -> None:
    entries = chained(5)
    entries[2] = replace(entries[2], record=replace(entries[2].record, sub="someone-else"))
    assert walk("notify", START, entries) == Break(
        "notify", entries[2].record.entry_id, "entry changed"
    )


def test_a_changed_hash_is_the_first_break() -> None:
    entries = chained(4)
    entries[1] = replace(entries[1], hash="f" * 64)
    found = walk("notify", START, entries)
    assert isinstance(found, Break)
    assert found.entry_id == entries[1].record.entry_id


def test_a_missing_entry_breaks_at_the_one_after_it() -> None:
    entries = chained(5)
    del entries[2]
    found = walk("notify", START, entries)
    assert found == Break(
        "notify", entries[2].record.entry_id, "an entry before it is missing or changed"
    )


def test_a_missing_first_entry_breaks_at_the_second() -> None:
    entries = chained(3)
    found = walk("notify", START, entries[1:])
    assert isinstance(found, Break)
    assert found.entry_id == entries[1].record.entry_id


def test_an_entry_behind_its_checkpoint_breaks() -> None:
    entries = chained(3)
    found = walk("notify", Link(2, entries[1].hash), entries)
    assert found == Break("notify", entries[0].record.entry_id, "entry out of place in the chain")


def test_an_entry_of_another_service_breaks() -> None:
    entries = chained(2, service="triage")
    found = walk("notify", START, entries)
    assert isinstance(found, Break)
    assert found.reason == "entry of another service"


def test_an_entry_whose_search_rows_differ_breaks() -> None:
    entries = chained(3)
    rows = {e.record.entry_id: index_of(e.record) for e in entries}
    assert walk("notify", START, entries, rows) == Link(3, entries[-1].hash)
    _subjects, ids = rows[entries[1].record.entry_id]
    rows[entries[1].record.entry_id] = (frozenset(), ids)  # a person's row deleted
    assert walk("notify", START, entries, rows) == Break(
        "notify", entries[1].record.entry_id, "its people or ids as searched differ from it"
    )
