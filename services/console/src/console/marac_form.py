"""The MARAC referral form (contract section 6): from the page's fields to marac's body.

Marac is the one judge of a referral: this module checks only what a page cannot send
as JSON (a date typed as three boxes) and otherwise passes the form on as filled in,
leaving out what is blank. Marac's refusals come back to the fields through
`marac_errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.dash_questions import QUESTIONS

PERPETRATORS = 3
CHILDREN = 4
CRITERIA = ("visible_high_risk", "professional_judgement", "potential_escalation", "repeat_marac")
PERSON_FIELDS = ("given_name", "family_name", "person_id")
TEXTS = (
    "professional_judgement_reason",
    "consent_reason",
    "victim_fears",
    "safe_contact",
    "summary",
)


@dataclass
class ReferralForm:
    """The form as filled in (every field by its name), and what is wrong with it."""

    values: dict[str, str] = field(default_factory=dict)
    criteria: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    slots: dict[str, list[int]] = field(default_factory=dict)
    """Which of the page's boxes each sent perpetrator or child came from: blank ones are
    not sent, so marac's `perpetrators[0]` may be the page's third."""

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def read(fields: Iterable[tuple[str, Any]]) -> ReferralForm:
    """The submitted fields (strings only: a file or anything else counts as blank)."""
    form = ReferralForm()
    for name, value in fields:
        text = value if isinstance(value, str) else ""
        if name == "criteria":
            form.criteria.append(text)
        elif name != "csrf_token":
            form.values[name] = text.strip()
    return form


def body(form: ReferralForm) -> dict[str, Any] | None:
    """Marac's body, or None when the form has errors of its own (a date that is none)."""
    v = form.get
    found: dict[str, Any] = {
        "referral_ref": v("referral_ref"),
        "referring_agency": v("referring_agency"),
        "referrer": _given({k: v(f"referrer-{k}") for k in ("name", "role", "phone", "email")}),
        "area": v("area"),
        "victim": _person(form, "victim", victim=True),
        "perpetrators": _parties(form, "perpetrators", PERPETRATORS),
        "children": _parties(form, "children", CHILDREN, child=True),
        "criteria": form.criteria,
        "consent": v("consent"),
    }
    dash = _dash(form)
    if dash is not None:
        found["dash"] = dash
    found |= _given({name: v(name) for name in TEXTS})
    return None if form.errors else _required(found)


def _required(found: dict[str, Any]) -> dict[str, Any]:
    # a required field left blank goes as missing, so marac names it ("Field required")
    return {k: val for k, val in found.items() if val != "" or k in ("criteria",)}


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: val for k, val in values.items() if val not in ("", None, [], {})}


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _person(
    form: ReferralForm, prefix: str, victim: bool = False, child: bool = False
) -> dict[str, Any]:
    v = form.get
    found = _given({k: v(f"{prefix}-{k}") for k in PERSON_FIELDS})
    born = _date(form, f"{prefix}-date_of_birth")
    if born:
        found["date_of_birth"] = born
    if victim:
        lines = [line.strip() for line in v(f"{prefix}-address-lines").splitlines() if line.strip()]
        address = _given({"lines": lines, "postcode": v(f"{prefix}-address-postcode")})
        contact = _given(
            {"phone": v(f"{prefix}-contact-phone"), "email": v(f"{prefix}-contact-email")}
        )
        if contact:
            contact["safe_to_contact"] = v(f"{prefix}-contact-safe_to_contact") == "yes"
        equality = _given(
            {
                "sex": v(f"{prefix}-equality-sex"),
                "ethnicity": v(f"{prefix}-equality-ethnicity"),
                "disability": _yes_no(v(f"{prefix}-equality-disability")),
                "lgbt": _yes_no(v(f"{prefix}-equality-lgbt")),
            }
        )
        found |= _given({"address": address, "contact": contact, "equality": equality})
    if child:
        found |= _given(
            {
                "present_at_incident": _yes_no(v(f"{prefix}-present_at_incident")),
                "school_urn": v(f"{prefix}-school_urn"),
            }
        )
    return found


def _parties(form: ReferralForm, name: str, boxes: int, child: bool = False) -> list[Any]:
    """The perpetrators or children filled in, noting which boxes they came from."""
    found = [(i, p) for i in range(boxes) if (p := _optional(form, f"{name}-{i}", child))]
    form.slots[name] = [i for i, _ in found]
    return [p for _, p in found]


def _optional(form: ReferralForm, prefix: str, child: bool = False) -> dict[str, Any] | None:
    """A perpetrator or child, when any of its boxes is filled in."""
    if not any(val for name, val in form.values.items() if name.startswith(prefix + "-")):
        return None
    return _person(form, prefix, child=child)


def _date(form: ReferralForm, prefix: str) -> str | None:
    parts = [form.get(f"{prefix}-{p}") for p in ("day", "month", "year")]
    if not any(parts):
        return None
    try:
        day, month, year = (int(p) for p in parts)
        found = date(year, month, day)
    except ValueError:
        found = None
    if found is None or not date(1900, 1, 1) <= found <= date.today():
        form.errors[f"{prefix}-day"] = "Enter a real date of birth, for example 27 3 1990"
        return None
    return found.isoformat()


def _dash(form: ReferralForm) -> dict[str, Any] | None:
    """The DASH, when any of its questions is answered or its author named."""
    answers = {
        q.key: yes for q in QUESTIONS if (yes := _yes_no(form.get(f"dash-{q.key}"))) is not None
    }
    by = form.get("dash-completed_by")
    judgement = form.get("dash-professional_judgement")
    if not answers and not by and not judgement:
        return None
    found: dict[str, Any] = {"checklist": "safelives-dash-ric-24", "answers": answers}
    return found | _given({"completed_by": by, "professional_judgement": judgement})
