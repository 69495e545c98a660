"""Decide on an incident and publish the decision: load, call the domain, save, emit.

Runs inside the caller's transaction (a consumed event's or a re-grade's), so the
decision and its outgoing event commit together, in the caller's trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from opentelemetry import trace
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import utc
from shared.envelope import CloudEvent
from shared.schemas import Dash, DecisionReferral, IncidentReported, MaracEligibility, TriageDecided
from shared.schemas.v1 import Regrade
from shared.service import Platform
from shared.topics import DECISIONS, TRIAGE_DECIDED
from triage import histories, queries, store
from triage.config import Settings
from triage.domain.decision import Case, Decision, decide
from triage.domain.policy import Policy
from triage.domain.referrals import Referral

SOURCE = "/mash/triage"
DECISION_IDS = uuid5(NAMESPACE_URL, "urn:mash:triage:decision")


@dataclass(frozen=True)
class Triage:
    """What triage's handlers work with: the platform, the settings and a decision counter."""

    platform: Platform
    settings: Settings
    decisions: Counter

    @classmethod
    def on(cls, platform: Platform) -> Triage:
        settings = platform.settings
        assert isinstance(settings, Settings)
        counter = Counter(
            "mash_triage_decisions",
            "Triage decisions made",
            ["risk_level", "risk_basis", "marac_eligible"],
            registry=platform.metrics.registry,
        )
        return cls(platform, settings, counter)

    @property
    def policy(self) -> Policy:
        return self.settings.policy

    @property
    def secret(self) -> str:
        return self.settings.platform.pseudonym_key


def decision_id(cause: str) -> UUID:
    """The decision a cause (an event id, a re-grade id) produces: a replay gives the same."""
    return uuid5(DECISION_IDS, cause)


# what makes two decisions the same, for a re-decision that may change nothing
_SUBSTANCE = (
    "policy_version",
    "risk_level",
    "risk_basis",
    "dash_score",
    "flags",
    "prior_incidents_12m",
    "marac",
    "referrals",
)


def knock_on_cause(event_id: str, incident_id: str) -> str:
    """The cause of a re-decision that `event_id` set off for another incident: stable, so a
    replay of the event gives the same decision id."""
    return str(uuid5(DECISION_IDS, f"{event_id}:{incident_id}"))


async def decide_and_publish(
    triage: Triage, session: AsyncSession, incident_id: str, cause: str, now: datetime
) -> TriageDecided:
    """A new decision for a known incident, stored and staged on the outbox."""
    decided = await _decide(triage, session, incident_id, cause, now, only_if_changed=False)
    assert decided is not None
    return decided


async def redecide_if_changed(
    triage: Triage, session: AsyncSession, incident_id: str, cause: str, now: datetime
) -> TriageDecided | None:
    """Decide again on an incident whose history changed under it (an earlier incident or
    a MARAC listing that arrived late); publish only if the decision really changes."""
    return await _decide(triage, session, incident_id, cause, now, only_if_changed=True)


async def _decide(
    triage: Triage,
    session: AsyncSession,
    incident_id: str,
    cause: str,
    now: datetime,
    *,
    only_if_changed: bool,
) -> TriageDecided | None:
    row = await queries.find_incident(session, incident_id)
    assert row is not None, "decide only on stored incidents"
    previous = await queries.latest_decision(session, incident_id)
    case = Case(
        incident=IncidentReported.model_validate(row.incident),
        record=queries.record_of(row),
        dash=Dash.model_validate(row.dash) if row.dash else None,
        regrade=Regrade.model_validate(row.regrade) if row.regrade else None,
        referrals=tuple(Referral(**r) for r in queries.referral_rows(previous)),
    )
    history = await histories.load_history(session, case.record.victim, case.record.suspect)
    data = _published(case, decide(case, history, triage.policy), decision_id(cause), now)
    if only_if_changed and previous is not None and _same(previous.decision, data):
        return None
    await session.execute(
        store.decisions.insert().values(
            decision_id=str(data.decision_id),
            incident_id=incident_id,
            version=(previous.version + 1) if previous else 1,
            cause=cause,
            decided_at=utc(now),
            decision=data.model_dump(mode="json", exclude={"incident"}),
        )
    )
    event = CloudEvent(
        id=str(data.decision_id),
        source=SOURCE,
        type=TRIAGE_DECIDED,
        subject=incident_id,
        data=data.model_dump(mode="json"),
        time=now,
    )
    await triage.platform.outbox.add(session, DECISIONS, row.victim_key, event)
    _observe(triage, data)
    return data


def _same(stored: dict[str, Any], data: TriageDecided) -> bool:
    fresh = data.model_dump(mode="json", include=set(_SUBSTANCE))
    return all(stored.get(field) == fresh[field] for field in _SUBSTANCE)


def _published(case: Case, decision: Decision, identifier: UUID, now: datetime) -> TriageDecided:
    """The decision as contract section 7 shapes it, with the incident as accepted."""
    incident = case.incident
    return TriageDecided(
        decision_id=identifier,
        incident_id=incident.incident_id,
        control_room_ref=incident.control_room_ref,
        force=incident.force,
        area=incident.area,
        decided_at=now,
        policy_version=decision.policy_version,
        risk_level=decision.risk_level,
        risk_basis=decision.risk_basis,
        dash_score=decision.dash_score,
        flags=decision.flags,
        prior_incidents_12m=decision.prior_incidents_12m,
        marac=MaracEligibility(
            eligible=decision.marac.eligible, criteria=list(decision.marac.criteria)
        ),
        referrals=[
            DecisionReferral(agency=r.agency, reason=r.reason, subject=r.subject)
            for r in decision.referrals
        ],
        regrade=case.regrade,
        incident=incident,
    )


def _observe(triage: Triage, data: TriageDecided) -> None:
    """Enums and counts only: no personal data reaches spans or metrics."""
    eligible = str(data.marac.eligible).lower()
    triage.decisions.labels(data.risk_level, data.risk_basis, eligible).inc()
    span = trace.get_current_span()
    span.set_attribute("mash.decision_id", str(data.decision_id))
    span.set_attribute("mash.risk_level", data.risk_level)
    span.set_attribute("mash.risk_basis", data.risk_basis)
    span.set_attribute("mash.flags", data.flags)
    span.set_attribute("mash.marac.criteria", data.marac.criteria)
    span.set_attribute("mash.referrals", len(data.referrals))
