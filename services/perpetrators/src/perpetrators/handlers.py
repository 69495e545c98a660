"""Perpetrators' event and command handlers: load, call the domain, save, emit.

Scoring a suspect over their incidents is logged as `combined`, and publishing a
perpetrator for the neighbourhood team as `disclosed` (contract section 12), in the
transaction that does it. The module ends with `EVENTS`, the table the consumer
dispatches from.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from perpetrators import repository
from perpetrators.config import Settings
from perpetrators.domain import cohort, scoring
from perpetrators.domain.perpetrator import (
    IncidentOnRecord,
    Perpetrator,
    PersonDetails,
    perpetrator_id,
)
from perpetrators.domain.scoring import Incident
from perpetrators.schemas import record_of
from shared import audit, outbox
from shared.audit import Entry, Item
from shared.db import hold, utc
from shared.envelope import CloudEvent
from shared.identity import identify
from shared.kafka import EventTable, On
from shared.kafka_security import NEIGHBOURHOOD_TEAM
from shared.schemas import TriageDecided
from shared.service import Platform
from shared.topics import (
    DECISIONS,
    PERPETRATOR_PRIORITISED,
    PERPETRATOR_RELEASED,
    PERPETRATORS,
    TRIAGE_DECIDED,
)

SOURCE = "/mash/perpetrators"
EVENT_TYPES = {"prioritised": PERPETRATOR_PRIORITISED, "released": PERPETRATOR_RELEASED}
log = logging.getLogger(__name__)
NAME = "perpetrators"
COMBINED = Entry(NAME, "combined", NAME, "topic", DECISIONS, "perpetrator")
DISCLOSED = Entry(
    NAME, "disclosed", NAME, "topic", PERPETRATORS, "perpetrator", recipient=NEIGHBOURHOOD_TEAM
)


async def on_triage_decided(
    platform: Platform[Settings],
    session: AsyncSession,
    decision: TriageDecided,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A triage decision: its incident scores its suspect, when the suspect is identifiable.

    A later decision for the same incident (a DASH, a re-grade) updates that incident."""
    outbox.set_wise(session)  # its outbox rows: one statement for the whole batch
    incident = decision.incident
    if incident.suspect is None:
        return
    secret = platform.settings.hub.pseudonym_key
    suspect = identify(secret, incident.suspect)
    if not suspect.hashes:
        return  # an unidentifiable suspect scores nobody
    # One suspect's incidents against different victims travel under different Kafka
    # keys, so two replicas may resolve them at once: the second waits here, then finds
    # the first one's perpetrator rather than making a second one.
    await hold(session, suspect.hashes)
    ref = await repository.resolve_perpetrator(
        session, suspect, perpetrator_id(secret, suspect), now
    )
    kept = IncidentOnRecord(
        incident=Incident(
            incident_id=str(decision.incident_id),
            reported_at=utc(incident.reported_at),
            risk_level=decision.risk_level,
            child_present=any(c.present_at_incident for c in incident.children),
            abuse_types=tuple(incident.abuse_types),
            victim=identify(secret, incident.victim),
        ),
        area=decision.area,
        decided_at=utc(decision.decided_at),
        suspect=PersonDetails(
            incident.suspect.given_name,
            incident.suspect.family_name,
            incident.suspect.date_of_birth,
        ),
    )
    await repository.save_incident(session, ref, kept)
    _, scored = await _rescore(platform, session, ref, now)
    await _log_combined(platform, session, ref, suspect.hashes, scored, now)


async def _log_combined(
    platform: Platform[Settings],
    session: AsyncSession,
    ref: str,
    keys: tuple[str, ...],
    scored: list[IncidentOnRecord],
    now: datetime,
) -> None:
    """The suspect scored over every incident on record against them (`scored`, as the
    score read them): the perpetrator with the suspect's keys, and each incident with
    its victim's."""
    found = [Item(ref, keys)]
    found += [Item(k.incident.incident_id, k.incident.victim.hashes) for k in scored]
    await audit.log(platform.outbox, session, COMBINED, found, now)


async def rescore(
    platform: Platform[Settings], session: AsyncSession, ref: str, now: datetime
) -> cohort.Change | None:
    """Score one perpetrator at `now`; entering or leaving the cohort is announced."""
    change, _ = await _rescore(platform, session, ref, now)
    return change


async def _rescore(
    platform: Platform[Settings], session: AsyncSession, ref: str, now: datetime
) -> tuple[cohort.Change | None, list[IncidentOnRecord]]:
    """`rescore`, and the incidents on record it scored over, oldest first."""
    policy = platform.settings.policy
    before = await repository.lock(session, ref)
    kept = await repository.incidents_of(session, ref)
    if not kept:
        return None, kept
    latest = max(kept, key=lambda k: (k.incident.reported_at, k.incident.incident_id))
    score = scoring.score([k.incident for k in kept], now, policy)
    after = Perpetrator(
        perpetrator_id=ref,
        area=latest.area,
        person=latest.suspect,
        score=score,
        priority=cohort.is_priority(score, policy),
        last_incident_id=latest.incident.incident_id,
    )
    await repository.save(session, after, before)
    change = cohort.change(before.priority if before else False, after.priority)
    if change is not None:
        await announce(platform, session, ref, change, now)
    return change, kept


async def announce(
    platform: Platform[Settings],
    session: AsyncSession,
    ref: str,
    change: cohort.Change,
    now: datetime,
) -> None:
    """Stage the change on `mash.perpetrators.v1`, keyed by the perpetrator, with the
    perpetrator as `GET /v1/perpetrators/{id}` shows them."""
    policy = platform.settings.policy
    found = await repository.find(
        session, ref, partial(scoring.months_before, months=policy.window_months)
    )
    assert found is not None
    event = CloudEvent(
        id=str(uuid4()),
        source=SOURCE,
        type=EVENT_TYPES[change],
        subject=found.last_incident_id or ref,
        data=record_of(found).model_dump(mode="json"),
        time=now,
    )
    await platform.outbox.add(session, PERPETRATORS, ref, event)
    # released or prioritised, the record goes to the neighbourhood team's topic
    keys = (await repository.identity_keys(session, [ref])).get(ref, ())
    await audit.log(platform.outbox, session, DISCLOSED, [Item(ref, keys)], now)
    log.info("perpetrator %s %s", ref, change)


async def rescore_all(platform: Platform[Settings], now: datetime) -> int:
    """The daily re-score: every perpetrator at `now`, each in its own transaction
    (recency decays; windows close). The number whose cohort membership changed."""
    async with platform.sessions() as session:
        refs = await repository.all_ids(session)
    changed = 0
    for ref in refs:
        async with platform.uow() as session:
            changed += await rescore(platform, session, ref, now) is not None
    return changed


EVENTS: EventTable[Platform[Settings]] = {
    TRIAGE_DECIDED: On(TriageDecided, on_triage_decided),
}
