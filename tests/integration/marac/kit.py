"""Builders for marac's integration tests: its settings, triage decisions as triage
publishes them (synthetic people), the equality monitoring as intake gives it to marac
alone, and producers to put them on their topics."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import marac.config
from mash_tools.testing import TEST_PSEUDONYM_KEY
from shared import identity
from shared.envelope import CloudEvent
from shared.schemas import EqualityGiven, TriageDecided
from shared.schemas.v1 import Equality, Victim
from shared.topics import DECISIONS, EQUALITY_GIVEN, INTAKE_EQUALITY, TRIAGE_DECIDED
from tests.builders import settings_for
from tests.integration.kit import TopicPublisher

ADMIN = ("marac:admin",)
READ = ("marac:read",)


def marac_settings(bootstrap: str, database_url: str, group: str, **extra: Any) -> Any:
    """Marac under test: no standing schedule unless a test gives one."""
    extra.setdefault("schedule", [])
    return settings_for(marac.config.Settings, bootstrap, database_url, group, **extra)


def new_area() -> str:
    """An area no other test uses: the decisions topic is shared with other tests."""
    return f"t{uuid.uuid4().hex[:12]}"


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def victim(n: int, **overrides: Any) -> dict[str, Any]:
    person: dict[str, Any] = {
        "person_id": f"T{uuid.uuid4().hex[:10]}-{n}",
        "given_name": f"Testvictim{n}",
        "family_name": "Synthetic",
        "date_of_birth": date(1980 + n % 20, 1 + n % 12, 1 + n % 28).isoformat(),
    }
    person.update(overrides)
    return person


def decision(
    area: str,
    victim_person: dict[str, Any],
    *,
    eligible: bool = True,
    criteria: tuple[str, ...] = ("visible_high_risk",),
    dash_score: int | None = 15,
    risk_level: str = "high",
    children: int = 0,
    decided_at: datetime | None = None,
    incident_id: uuid.UUID | None = None,
) -> TriageDecided:
    """A decision as triage publishes it, with its incident."""
    now = decided_at or datetime.now(UTC)
    incident_id = incident_id or uuid.uuid4()
    ref = f"HC-MARAC-{uuid.uuid4().hex[:12]}"
    incident = {
        "incident_id": str(incident_id),
        "received_at": now.isoformat(),
        "control_room_ref": ref,
        "force": "hampshire",
        "area": area,
        "reported_at": (now - timedelta(minutes=5)).isoformat(),
        "abuse_types": ["physical"],
        "relationship": "ex_partner",
        "victim": victim_person,
        "suspect": {"given_name": "Testsuspect", "family_name": "Synthetic"},
        "children": [
            {"given_name": f"Child{i}", "family_name": "Synthetic", "date_of_birth": "2018-03-03"}
            for i in range(children)
        ],
    }
    return TriageDecided.model_validate(
        {
            "decision_id": str(uuid.uuid4()),
            "incident_id": str(incident_id),
            "control_room_ref": ref,
            "force": "hampshire",
            "area": area,
            "decided_at": now.isoformat(),
            "policy_version": "test",
            "risk_level": risk_level,
            "risk_basis": "dash_score",
            "dash_score": dash_score,
            "flags": ["children_in_household"] if children else [],
            "prior_incidents_12m": 0,
            "marac": {"eligible": eligible, "criteria": list(criteria) if eligible else []},
            "referrals": [{"agency": "idva", "reason": "marac"}] if eligible else [],
            "incident": incident,
        }
    )


def event_of(data: TriageDecided) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/mash/triage",
        type=TRIAGE_DECIDED,
        subject=str(data.incident_id),
        data=data.model_dump(mode="json"),
        time=data.decided_at,
    )


def victim_key(person: dict[str, Any], incident_id: uuid.UUID) -> str:
    """The Kafka key intake gives the victim's events (the shared rule, with the test key)."""
    return identity.victim_key(TEST_PSEUDONYM_KEY, Victim.model_validate(person), incident_id)


class DecisionPublisher(TopicPublisher):
    """Puts decisions on `mash.triage.decisions.v1` as triage would."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, DECISIONS)

    async def publish(self, data: TriageDecided) -> CloudEvent:
        key = victim_key(data.incident.victim.model_dump(mode="json"), data.incident_id)
        return await self.send(key, event_of(data))


def equality_given(data: TriageDecided, equality: dict[str, Any]) -> EqualityGiven:
    """What intake gives marac (alone) for the decision's incident when its victim's
    equality monitoring was given: the decision itself never carries it."""
    return EqualityGiven(
        incident_id=data.incident_id,
        area=data.area,
        reported_at=data.incident.reported_at,
        equality=Equality.model_validate(equality),
    )


def equality_event(given: EqualityGiven) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/mash/intake",
        type=EQUALITY_GIVEN,
        subject=str(given.incident_id),
        data=given.model_dump(mode="json"),
        time=given.reported_at,
    )


class EqualityPublisher(TopicPublisher):
    """Puts equality monitoring on `mash.intake.equality.v1` as intake would (its principal,
    the victim's key)."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, INTAKE_EQUALITY)

    async def publish(self, data: TriageDecided, equality: dict[str, Any]) -> CloudEvent:
        key = victim_key(data.incident.victim.model_dump(mode="json"), data.incident_id)
        return await self.send(key, equality_event(equality_given(data, equality)))


def refer_scope(agency: str) -> tuple[str, ...]:
    return (f"marac:refer:{agency}",)


def referral_body(area: str, person: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A valid SafeLives referral form from `health` (visible high risk, 15 yes answers)."""
    answers = {f"q{i}": i <= 15 for i in range(1, 25)}
    body: dict[str, Any] = {
        "referral_ref": f"RBH-{uuid.uuid4().hex[:10]}",
        "referring_agency": "health",
        "referrer": {"name": "Testnurse Synthetic", "role": "Health visitor"},
        "area": area,
        "victim": {**person, "equality": {"sex": "female", "ethnicity": "white"}},
        "perpetrators": [{"given_name": "Testperp", "family_name": "Synthetic"}],
        "children": [{"given_name": "Testchild", "family_name": "Synthetic"}],
        "criteria": ["visible_high_risk"],
        "dash": {
            "checklist": "safelives-dash-ric-24",
            "answers": answers,
            "completed_by": "HV 77",
        },
        "consent": "given",
        "summary": "Synthetic summary of what the health visitor saw.",
    }
    body.update(overrides)
    return body
