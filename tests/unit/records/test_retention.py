"""Retention erases only a chain's leading entries older than the cutoff."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from records.domain.retention import cutoff, erasable
from tests.unit.records.builders import T0, chained


def test_cutoff_is_retention_days_before_now() -> None:
    assert cutoff(T0, 2557) == T0 - timedelta(days=2557)


def test_the_leading_entries_older_than_the_cutoff_are_erasable() -> None:
    entries = chained(5)  # one a minute from T0
    assert erasable(entries, T0 + timedelta(minutes=2)) == entries[:2]
    assert erasable(entries, T0) == []
    assert erasable(entries, T0 + timedelta(days=1)) == entries


def test_an_old_entry_after_a_newer_one_waits_for_it() -> None:
    entries = chained(3)
    late = replace(entries[1], record=replace(entries[1].record, at=T0 + timedelta(days=1)))
    assert erasable([entries[0], late, entries[2]], T0 + timedelta(hours=1)) == entries[:1]
