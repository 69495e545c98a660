"""Builders shared by the test modules: settings for a service under test, and bodies."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from opentelemetry.sdk.trace.export import SpanExporter

from mash_tools import testing
from shared.config import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def settings_for(cls: type[S], bootstrap: str, database_url: str, group: str, **extra: Any) -> S:
    """Settings for one service under test: its own database and consumer group, starting
    at the end of each topic so earlier tests' events are not replayed."""
    return cls(
        database_url=database_url,
        consumer_group=f"mash-{cls.__module__.split('.')[0]}-{group}",  # its principal's prefix
        consumer_offset_reset="latest",
        outbox_poll_seconds=0.05,
        hub=testing.hub_settings(bootstrap),
        **extra,
    )


def incident_body(ref: str = "HC-TEST-0001", **overrides: Any) -> dict[str, Any]:
    """A valid incident report (synthetic people)."""
    body: dict[str, Any] = {
        "control_room_ref": ref,
        "force": "hampshire",
        "area": "southampton",
        "reported_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "abuse_types": ["physical", "coercive_control"],
        "relationship": "ex_partner",
        "victim": {
            "person_id": "N100001",
            "given_name": "Alex",
            "family_name": "Testperson",
            "date_of_birth": "1990-04-01",
        },
        # a suspect of this report alone: tests sharing a broker never share a perpetrator
        "suspect": {
            "person_id": f"S{uuid.uuid4().hex[:12]}",
            "given_name": "Sam",
            "family_name": "Testsuspect",
            "date_of_birth": "1988-02-02",
        },
        "children": [],
    }
    body.update(overrides)
    return body


def dash_body(yes: int = 0, judgement: str | None = None) -> dict[str, Any]:
    answers = {f"q{i}": i <= yes for i in range(1, 25)}
    body: dict[str, Any] = {
        "checklist": "safelives-dash-ric-24",
        "answers": answers,
        "completed_by": "PC 1234",
    }
    if judgement:
        body["professional_judgement"] = judgement
    return body


def spans_named(exporter: Any, fragment: str) -> Sequence[Any]:
    return [s for s in exporter.get_finished_spans() if fragment in s.name]


__all__ = ["SpanExporter", "dash_body", "incident_body", "settings_for", "spans_named"]
