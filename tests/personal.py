"""An incident full of personal data, and the check that a message holds none of it.

The values are unusual on purpose (names, dates of birth, an address, phones, e-mails,
notes, the officer who completed the DASH), so finding one in a message can only mean
it was copied there; the keys are those of the shapes that carry personal data.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

NOTES = "Zxq officer note: victim hides at her sister Quibblewick's flat"
OFFICER = "PC Vortigern 9917"
PERSONAL_VALUES = (
    "Zephyrine",
    "Quillfeather",
    "Borislav",
    "Grimthorpe",
    "Tamsin",
    "Oriel",
    "1983-07-19",
    "1979-11-23",
    "2017-02-13",
    "2019-08-27",
    "N7734521",
    "S9981234",
    "17 Larkspur Mews",
    "Hedgeford",
    "SO99 9ZZ",
    "07700 900461",
    "07700900461",
    "07700 900462",
    "zephyrine.q@example.org",
    "b.grimthorpe@example.net",
    NOTES,
    "Quibblewick",
    OFFICER,
    "Vortigern",
)
"""Each of these is personal data of the incident below: none may reach a reader."""
PERSONAL_KEYS = frozenset(
    {
        "given_name",
        "family_name",
        "date_of_birth",
        "address",
        "lines",
        "postcode",
        "contact",
        "phone",
        "email",
        "notes",
        "answers",
        "completed_by",
        "victim",
        "suspect",
        "children",
        "person",
        "incident",
    }
)
"""Keys of the shapes that hold people, their contact, notes or DASH answers."""

_ADDRESS = {"lines": ["17 Larkspur Mews", "Hedgeford"], "postcode": "SO99 9ZZ"}


def rich_incident_body(ref: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A high-risk incident (15 DASH yes answers: MARAC-eligible) with two children present,
    one at a school, and every kind of personal data the intake accepts."""
    reported = datetime.now(UTC) - timedelta(hours=1)
    body: dict[str, Any] = {
        "control_room_ref": ref or f"HC-RICH-{uuid.uuid4().hex[:8]}",
        "force": "hampshire",
        "area": "southampton",
        "reported_at": reported.isoformat().replace("+00:00", "Z"),
        "abuse_types": ["physical", "coercive_control"],
        "relationship": "partner",
        "victim": {
            "person_id": f"N{uuid.uuid4().int % 10**7:07d}",
            "given_name": "Zephyrine",
            "family_name": "Quillfeather",
            "date_of_birth": "1983-07-19",
            "address": _ADDRESS,
            "contact": {
                "phone": "07700 900461",
                "email": "zephyrine.q@example.org",
                "safe_to_contact": False,
            },
        },
        "suspect": {
            "person_id": f"S{uuid.uuid4().int % 10**7:07d}",
            "given_name": "Borislav",
            "family_name": "Grimthorpe",
            "date_of_birth": "1979-11-23",
            "address": _ADDRESS,
            "contact": {"phone": "07700 900462", "email": "b.grimthorpe@example.net"},
        },
        "children": [
            {
                "given_name": "Tamsin",
                "family_name": "Quillfeather",
                "date_of_birth": "2017-02-13",
                "present_at_incident": True,
                "school_urn": "123456",
                "address": _ADDRESS,
            },
            {
                "given_name": "Oriel",
                "family_name": "Quillfeather",
                "date_of_birth": "2019-08-27",
                "present_at_incident": False,
            },
        ],
        "dash": {
            "checklist": "safelives-dash-ric-24",
            "answers": {f"q{i}": i <= 15 for i in range(1, 25)},
            "professional_judgement": "high",
            "completed_by": OFFICER,
        },
        "notes": NOTES,
    }
    body.update(overrides)
    return body


def personal_data_in(value: bytes | str | None) -> list[str]:
    """What of the rich incident's personal data `value` holds (a message's value, key or
    header), and any key of a personal shape if it is JSON: empty when it holds none."""
    if value is None:
        return []
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    found = [v for v in PERSONAL_VALUES if v.casefold() in text.casefold()]
    try:
        parsed = json.loads(text)
    except ValueError:
        return found
    return found + sorted(_keys(parsed) & PERSONAL_KEYS)


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()
