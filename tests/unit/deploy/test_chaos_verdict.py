"""`mash chaos`'s verdict on webhook repeats (issue 24): a delivery repeated after a 2xx
is allowed when a notify crash came between (contract section 5: receivers drop it by
its `ce-id`), and a failure when nothing explains it."""

from __future__ import annotations

import pytest

from mash_tools.chaos import CRASH_GRACE, Table, webhook_repeats


def test_a_repeat_with_a_notify_crash_between_is_explained() -> None:
    deliveries = [("a", 204, 10.0), ("a", 204, 25.0)]
    assert webhook_repeats(deliveries, crashes=[12.0]) == (1, 0)


def test_a_repeat_without_a_notify_crash_is_unexplained() -> None:
    deliveries = [("a", 204, 10.0), ("a", 204, 25.0)]
    assert webhook_repeats(deliveries, crashes=[]) == (0, 1)
    # a crash after the repeat, or long before the first delivery, explains nothing
    assert webhook_repeats(deliveries, crashes=[30.0, 10.0 - CRASH_GRACE - 1]) == (0, 1)


def test_a_delivery_that_reached_the_receiver_just_after_the_crash_is_explained() -> None:
    """The request was on the wire when the replica died: it lands a moment later."""
    deliveries = [("a", 204, 10.0), ("a", 204, 40.0)]
    assert webhook_repeats(deliveries, crashes=[10.0 - CRASH_GRACE / 2]) == (1, 0)


def test_each_repeat_is_judged_on_its_own() -> None:
    deliveries = [
        ("a", 204, 10.0),
        ("a", 204, 20.0),  # a crash at 15 explains this one
        ("a", 204, 30.0),  # nothing between 20 and 30: a defect
        ("b", 204, 11.0),
        ("b", 204, 16.0),  # the same crash explains b's repeat too
        ("c", 204, 12.0),  # delivered once
        ("d", 500, 13.0),  # a failure and its retry are not repeats after a 2xx
        ("d", 204, 14.0),
    ]
    assert webhook_repeats(deliveries, crashes=[15.0]) == (2, 1)


def test_the_verdict_fails_on_unexplained_repeats_only() -> None:
    explained = Table(accepted=24, webhook_deliveries=30, webhook_repeats_after_crash=4)
    assert explained.failures == 0
    unexplained = Table(accepted=24, webhook_deliveries=30, webhook_duplicates=1)
    assert unexplained.failures == 1


def test_the_table_prints_both_counts(capsys: pytest.CaptureFixture[str]) -> None:
    Table(accepted=2, webhook_duplicates=0, webhook_repeats_after_crash=3).print()
    out = capsys.readouterr().out
    assert "webhook repeats a notify crash explains" in out
    assert "PASS: nothing lost" in out
