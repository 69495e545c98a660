"""CloudEvents 1.0 in the Kafka protocol binding's binary mode.

Attributes travel as `ce_*` headers, the value is the JSON data, and the W3C trace
context rides along as `traceparent`/`tracestate` headers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SPECVERSION = "1.0"
# what the inbox stores of an event: longer is not one of ours, and must not reach a column
ATTRIBUTE_LIMITS = {"ce_id": 64, "ce_type": 100, "ce_subject": 64, "ce_source": 200}
CONTENT_TYPE = "application/json"


class EnvelopeError(ValueError):
    """A Kafka message that is not a CloudEvent we can read."""


@dataclass(frozen=True)
class CloudEvent:
    """One event: its attributes and its JSON data."""

    id: str
    source: str
    type: str
    subject: str
    data: Mapping[str, Any]
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    trace_headers: Mapping[str, str] = field(default_factory=dict)
    raw: bytes = field(default=b"", compare=False, repr=False)
    """The value exactly as it came off the topic (empty for an event made here): what a
    consumer that must keep a record as received stores (records' disclosures)."""
    key: str | None = field(default=None, compare=False)
    """The Kafka key it came with, if any (a victim's pseudonymous key, contract 7)."""

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers for binary mode (a mutable list, as instrumentation expects)."""
        pairs = {
            "ce_specversion": SPECVERSION,
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_time": self.time.isoformat().replace("+00:00", "Z"),
            "ce_subject": self.subject,
            "content-type": CONTENT_TYPE,
            **self.trace_headers,
        }
        return [(k, v.encode()) for k, v in pairs.items()]

    def value(self) -> bytes:
        """The message value: the data as compact JSON."""
        return json.dumps(self.data, separators=(",", ":"), default=str).encode()


def header_map(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    """Kafka headers as a str->str dict (undecodable bytes are replaced, never raised)."""
    return {k: (v or b"").decode("utf-8", "replace") for k, v in headers or ()}


def parse(
    headers: Sequence[tuple[str, bytes]] | None, value: bytes | None, key: bytes | None = None
) -> CloudEvent:
    """Read a Kafka message as a CloudEvent, or raise EnvelopeError."""
    h = header_map(headers)
    if h.get("ce_specversion") != SPECVERSION:
        raise EnvelopeError("not a CloudEvents 1.0 binary-mode message")
    missing = [a for a in ("ce_id", "ce_source", "ce_type", "ce_subject") if not h.get(a)]
    if missing:
        raise EnvelopeError(f"missing attributes: {', '.join(missing)}")
    oversized = [a for a, limit in ATTRIBUTE_LIMITS.items() if len(h.get(a, "")) > limit]
    if oversized:
        raise EnvelopeError(f"attributes too long: {', '.join(oversized)}")
    try:
        data = json.loads(value or b"")
        time = datetime.fromisoformat(h.get("ce_time", "").replace("Z", "+00:00"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"undecodable: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise EnvelopeError("data is not a JSON object")
    trace: dict[str, str] = {k: h[k] for k in ("traceparent", "tracestate") if k in h}
    return CloudEvent(
        id=h["ce_id"],
        source=h["ce_source"],
        type=h["ce_type"],
        subject=h["ce_subject"],
        data=data,
        time=time,
        trace_headers=trace,
        raw=value or b"",
        key=key.decode("utf-8", "replace") if key else None,
    )
