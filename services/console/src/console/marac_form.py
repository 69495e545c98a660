"""The MARAC referral form (contract section 6): from the page's fields to marac's body,
and marac's 422 errors back to the fields they name.

Marac is the one judge of a referral: this module checks only what a page cannot send
as JSON (a date typed as three boxes) and otherwise passes the form on as filled in,
leaving out what is blank. Each of marac's errors (`{"loc": ["body", "victim",
"date_of_birth"], "msg": ...}`) becomes a message beside the field it names
(`victim-date_of_birth-day`) and a link in the page's error summary, as GOV.UK's
error summary pattern has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
CHOICES = frozenset({"consent", "criteria", "referring_agency", "dash-professional_judgement"})
"""Fields answered by choosing (radios, checkboxes): "Select", not "Enter"."""
LABELS = {
    "referral_ref": "Your reference",
    "referring_agency": "The referring agency",
    "area": "The MARAC area",
    "criteria": "The referral criteria",
    "consent": "The victim's consent",
    "consent_reason": "Why consent was not given or not sought",
    "professional_judgement_reason": "The reason for professional judgement",
    "victim_fears": "What the victim fears",
    "safe_contact": "How to contact the victim safely",
    "summary": "The summary",
    "dash-q1": "The DASH answers",
    "dash-completed_by": "Who completed the DASH",
    "dash-professional_judgement": "The DASH's professional judgement",
}
PARTS = {
    "name": "name",
    "role": "role",
    "phone": "phone number",
    "email": "email address",
    "given_name": "given name",
    "family_name": "family name",
    "person_id": "person id",
    "date_of_birth-day": "date of birth",
    "address-lines": "address",
    "address-postcode": "postcode",
    "contact-phone": "phone number",
    "contact-email": "email address",
    "equality-sex": "sex",
    "equality-ethnicity": "ethnic group",
    "equality-disability": "disability",
    "equality-lgbt": "LGBT+",
    "present_at_incident": "presence at the incident",
    "school_urn": "school URN",
}
RULES = {
    ("dash", "is required with visible_high_risk"): (
        "Answer the DASH questions: visible high risk needs the DASH"
    ),
    ("dash-q1", "visible_high_risk needs at least 14 yes answers"): (
        "Visible high risk needs at least 14 'yes' answers on the DASH"
    ),
    ("professional_judgement_reason", "is required with professional_judgement"): (
        "Enter the reason for referring on professional judgement"
    ),
    ("consent_reason", "is required unless consent is given"): (
        "Enter why the victim's consent was not given or not sought"
    ),
}


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


# marac's errors, beside their fields


def field_id(loc: Sequence[Any], slots: Mapping[str, list[int]] | None = None) -> str:
    """The page's field that an error's `loc` names (the first box of a date, the first
    DASH question for the answers as a whole, the first checkbox of the criteria; the
    box a perpetrator or child was typed in)."""
    path = [str(p) for p in loc]
    if len(path) > 2 and path[1] in (slots or {}) and path[2].isdigit():
        sent = (slots or {})[path[1]]
        index = int(path[2])
        path[2] = str(sent[index] if index < len(sent) else index)
    if path[:1] == ["body"]:
        path = path[1:]
    if not path:
        return ""
    head = path[0]
    if head == "dash" and (len(path) == 1 or path[1] == "answers"):
        return f"dash-{path[2]}" if len(path) > 2 and path[2].startswith("q") else "dash-q1"
    if head == "criteria":
        return "criteria"
    if head in ("perpetrators", "children"):
        path = path if len(path) > 1 and path[1].isdigit() else [head, "0", "given_name"]
    if path[-1] == "date_of_birth":
        return "-".join(path) + "-day"
    if len(path) >= 3 and path[-2] == "lines" and path[-1].isdigit():
        path = path[:-1]
    return "-".join(path[:4])


def label(name: str) -> str:
    """What a field is, in words: `children-1-school_urn` -> `Child 2's school URN`."""
    if name in LABELS:
        return LABELS[name]
    head, _, rest = name.partition("-")
    if head == "referrer":
        return f"Your {PARTS.get(rest, rest.replace('_', ' '))}"
    if head == "victim":
        return f"The victim's {PARTS.get(rest, rest.replace('_', ' '))}"
    if head in ("perpetrators", "children"):
        number, _, part = rest.partition("-")
        who = "Perpetrator" if head == "perpetrators" else "Child"
        index = int(number) + 1 if number.isdigit() else 1
        return f"{who} {index}'s {PARTS.get(part, part.replace('_', ' '))}"
    return name.replace("_", " ").replace("-", " ").capitalize()


def message(name: str, msg: str, what: str | None = None) -> str:
    """One error as GOV.UK words it: what to do, not what the validator saw."""
    msg = msg.removeprefix("Value error, ")
    key = "dash" if name == "dash-q1" and "required" in msg else name
    if (key, msg) in RULES:
        return RULES[(key, msg)]
    what = what or label(name)
    lowered = what[:1].lower() + what[1:]
    chosen = name in CHOICES or name.endswith(("present_at_incident", "disability", "lgbt"))
    if (msg == "Field required" and not chosen) or msg.startswith("String should have at least 1"):
        return f"Enter {lowered}"
    if msg.startswith(("Field required", "Input should be", "List should have at least")):
        return f"Select {lowered}"
    if msg.startswith("String should match pattern"):
        return f"{what} is not in the right format"
    if msg.startswith(("String should have at most", "List should have at most")):
        return f"{what} is too long: " + msg.split("should have ", 1)[1]
    return f"{what}: {msg}"


def with_errors(form: ReferralForm, errors: Iterable[Mapping[str, Any]]) -> ReferralForm:
    """The form with marac's errors beside their fields (the first for each field)."""
    for error in errors:
        name = field_id(error.get("loc", ()), form.slots)
        form.errors.setdefault(name, message(name, str(error.get("msg", ""))))
    return form


def simple_errors(
    errors: Iterable[Mapping[str, Any]], labels: Mapping[str, str], dates: Sequence[str] = ()
) -> dict[str, str]:
    """A one-level form's errors (research, an action, its outcome): `["body", name]` to
    the field `name` (a date's first box); anything else to the summary only."""
    found: dict[str, str] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        name = loc[1] if len(loc) > 1 and loc[0] == "body" else ""
        box = f"{name}-day" if name in dates else name if name in labels else ""
        text = message(name, str(error.get("msg", "")), labels.get(name, "This form"))
        found.setdefault(box, text)
    return found


def typed_date(day: str, month: str, year: str) -> str | None:
    """A date typed in three boxes as `YYYY-MM-DD`, or None when it is no date."""
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None
