"""CloudEvents binary mode: what goes out is read back the same; what is not ours is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.envelope import ATTRIBUTE_LIMITS, CloudEvent, EnvelopeError, header_map, parse


def event() -> CloudEvent:
    return CloudEvent(
        id="e-1",
        source="/mash/intake",
        type="mash.incident.reported",
        subject="inc-1",
        data={"incident_id": "inc-1", "n": 2},
        time=datetime(2026, 12, 5, 9, 30, tzinfo=UTC),
        trace_headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"},
    )


def test_an_event_reads_back_as_it_was_sent() -> None:
    sent = event()
    got = parse(sent.headers(), sent.value(), b"victim-key")
    assert got == sent
    assert got.key == "victim-key"
    assert got.raw == sent.value()
    assert dict(got.trace_headers) == dict(sent.trace_headers)


def test_headers_are_binary_mode_with_a_utc_time() -> None:
    h = header_map(event().headers())
    assert h["ce_specversion"] == "1.0"
    assert h["content-type"] == "application/json"
    assert h["ce_time"] == "2026-12-05T09:30:00Z"


def test_undecodable_header_bytes_are_replaced_not_raised() -> None:
    assert header_map([("ce_id", b"\xff\xfe")]) == {"ce_id": "\ufffd\ufffd"}
    assert header_map(None) == {}


def without(name: str) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in event().headers() if k != name]


@pytest.mark.parametrize("name", ["ce_id", "ce_source", "ce_type", "ce_subject"])
def test_a_missing_attribute_is_refused(name: str) -> None:
    with pytest.raises(EnvelopeError, match=name):
        parse(without(name), event().value())


def test_a_message_that_is_not_a_cloudevent_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="not a CloudEvents"):
        parse(without("ce_specversion"), event().value())
    with pytest.raises(EnvelopeError, match="not a CloudEvents"):
        parse(None, b"{}")


@pytest.mark.parametrize("name", sorted(ATTRIBUTE_LIMITS))
def test_an_attribute_too_long_for_the_inbox_is_refused(name: str) -> None:
    long = [
        (k, b"x" * (ATTRIBUTE_LIMITS[name] + 1) if k == name else v) for k, v in event().headers()
    ]
    with pytest.raises(EnvelopeError, match="too long"):
        parse(long, event().value())


@pytest.mark.parametrize("value", [b"", b"not json", b"\xff", b"[1, 2]", b'"text"', None])
def test_a_value_that_is_not_a_json_object_is_refused(value: bytes | None) -> None:
    with pytest.raises(EnvelopeError):
        parse(event().headers(), value)


def test_a_bad_time_is_refused() -> None:
    bad = [(k, b"yesterday" if k == "ce_time" else v) for k, v in event().headers()]
    with pytest.raises(EnvelopeError, match="undecodable"):
        parse(bad, event().value())
