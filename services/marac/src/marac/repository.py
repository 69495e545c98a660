"""Marac's queries: meetings, cases and victims' identity keys.

Returns domain objects; rows never leave this module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marac import store
from marac.domain.cases import IncidentFacts, Party, ReferralFacts
from marac.domain.listing import CaseStatus, MaracCase, Meeting
from marac.domain.meeting import Action, Research
from shared.db import chunks, insert, utc
from shared.pagination import keyset

_case_columns = (*store.cases.c, store.meetings.c.date.label("meeting_date"))


async def resolve_victim(
    session: AsyncSession, keys: list[str], fallback: str, now: datetime
) -> str:
    """The victim's reference: the one already known for any of their identity keys
    (strongest first), else a new one; every key is recorded against it. The caller holds
    the keys first (`shared.db.hold`: see `handlers.resolve_victim`)."""
    if not keys:
        return fallback
    for _ in range(2):
        rows = (
            await session.execute(
                select(store.identities).where(store.identities.c.identity.in_(keys))
            )
        ).all()
        known = {row.identity: row.victim_ref for row in rows}
        ref = next((known[k] for k in keys if k in known), keys[0])
        missing = [k for k in keys if k not in known]
        if not missing:
            return ref
        await add_identities(session, missing, ref, now)
    return ref


async def add_identities(
    session: AsyncSession, keys: Sequence[str], ref: str, now: datetime
) -> int:
    """Record `keys` against the victim `ref`, but those already recorded (against anyone):
    how many were recorded."""
    stmt = insert(session, store.identities).values(
        [{"identity": k, "victim_ref": ref, "created_at": now} for k in keys]
    )
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["identity"]))
    return _rowcount(result)


async def victim_cases(session: AsyncSession, victim_ref: str) -> list[MaracCase]:
    stmt = _cases_query().where(store.cases.c.victim_ref == victim_ref)
    return [_case(row) for row in (await session.execute(stmt)).all()]


# a consumer's batch (`marac.batch`): what its handler reads per decision, for them all


async def identities_of(session: AsyncSession, keys: Sequence[str]) -> dict[str, str]:
    """Identity key -> victim reference, for those of `keys` on record."""
    ids = store.identities
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(keys))):
        stmt = select(ids.c.identity, ids.c.victim_ref).where(ids.c.identity.in_(chunk))
        found.update((row.identity, row.victim_ref) for row in await session.execute(stmt))
    return found


async def cases_of_victims(
    session: AsyncSession, victim_refs: Sequence[str]
) -> dict[str, list[MaracCase]]:
    """Each victim's cases (`victim_cases`), by victim reference."""
    found: dict[str, list[MaracCase]] = {ref: [] for ref in victim_refs}
    for chunk in chunks(sorted(found)):
        stmt = _cases_query().where(store.cases.c.victim_ref.in_(chunk))
        for row in await session.execute(stmt.order_by(store.cases.c.case_id)):
            found[row.victim_ref].append(_case(row))
    return found


async def meetings_to_come(
    session: AsyncSession, areas: Sequence[str], from_date: date
) -> dict[str, list[Meeting]]:
    """Each area's meetings from `from_date` whose outcome is not recorded, by date
    (`meetings_of(area, from_date, to_come=True)`), by area."""
    m = store.meetings
    found: dict[str, list[Meeting]] = {area: [] for area in areas}
    for chunk in chunks(sorted(found)):
        stmt = select(m).where(m.c.area.in_(chunk), m.c.date >= from_date, m.c.outcome_at.is_(None))
        for row in await session.execute(stmt.order_by(*MEETINGS_ORDER)):
            found[row.area].append(_meeting(row))
    return found


async def lock_case(session: AsyncSession, case_id: str) -> MaracCase:
    """The case, locked until the transaction ends (two joins never lose an incident)."""
    stmt = _cases_query().where(store.cases.c.case_id == case_id).with_for_update(of=store.cases)
    return _case((await session.execute(stmt)).one())


async def cases_on(session: AsyncSession, meeting_id: str) -> list[MaracCase]:
    stmt = _cases_query().where(store.cases.c.meeting_id == meeting_id)
    return [_case(row) for row in (await session.execute(stmt)).all()]


async def find_cases(
    session: AsyncSession, area: str | None, status: CaseStatus | None
) -> list[MaracCase]:
    stmt = _cases_query()
    if area is not None:
        stmt = stmt.where(store.cases.c.area == area)
    if status == "closed":
        stmt = stmt.where(store.cases.c.closed_at.is_not(None))
    elif status is not None:
        stmt = stmt.where(store.cases.c.status == status, store.cases.c.closed_at.is_(None))
    return [_case(row) for row in (await session.execute(stmt)).all()]


async def listed_from(
    session: AsyncSession, area: str | None, start: tuple[date, str] | None, wanted: int
) -> list[MaracCase]:
    """Listed cases by whole meetings, in (date, meeting_id) order from the meeting `start`
    on (inclusive; None: the first), enough of them to hold `wanted` cases after that first
    meeting. A page of a list ordered by meeting then agenda (computed from each case's
    incidents) reads only the meetings it shows, never the area's whole history."""
    m, c = store.meetings, store.cases
    counts = (
        select(m.c.meeting_id, func.count(c.c.case_id).label("cases"))
        .join(c, c.c.meeting_id == m.c.meeting_id)
        .where(c.c.status == "listed", c.c.closed_at.is_(None))  # closed: discussed
        .group_by(m.c.date, m.c.meeting_id)
        .order_by(m.c.date, m.c.meeting_id)
    )
    if area is not None:
        counts = counts.where(c.c.area == area)
    if start is not None:
        counts = counts.where(
            or_(m.c.date > start[0], and_(m.c.date == start[0], m.c.meeting_id >= start[1]))
        )
    chosen: list[str] = []
    beyond_first = 0
    # one row per meeting (its count only): the cases themselves are read for the chosen
    for meeting_id, cases in await session.execute(counts):
        chosen.append(meeting_id)
        if len(chosen) > 1:
            beyond_first += int(cases)
        if beyond_first >= wanted:
            break
    if not chosen:
        return []
    stmt = _cases_query().where(
        c.c.meeting_id.in_(chosen), c.c.status == "listed", c.c.closed_at.is_(None)
    )
    if area is not None:
        stmt = stmt.where(c.c.area == area)
    return [_case(row) for row in (await session.execute(stmt)).all()]


async def waiting_areas(session: AsyncSession) -> list[str]:
    stmt = select(store.cases.c.area).where(store.cases.c.status == "awaiting_meeting").distinct()
    return sorted((await session.execute(stmt)).scalars())


async def insert_case(session: AsyncSession, case: MaracCase, victim_key: str) -> None:
    await session.execute(
        store.cases.insert().values(
            case_id=case.case_id,
            victim_ref=case.victim_ref,
            victim_key=victim_key,
            area=case.area,
            status=case.status,
            meeting_id=case.meeting_id,
            earliest_date=case.earliest_date,
            awaiting_since=case.awaiting_since,
            listed_at=case.listed_at,
            repeat=case.repeat,
            incidents=[_facts_json(f) for f in case.incidents],
            referrals=[_referral_json(r) for r in case.referrals],
        )
    )


async def save_incidents(
    session: AsyncSession, case_id: str, incidents: tuple[IncidentFacts, ...], victim_key: str
) -> None:
    await session.execute(
        update(store.cases)
        .where(store.cases.c.case_id == case_id)
        .values(incidents=[_facts_json(f) for f in incidents], victim_key=victim_key)
    )


async def place_waiting_case(
    session: AsyncSession, case_id: str, meeting_id: str, now: datetime
) -> bool:
    """Move a waiting case onto a meeting; False when it no longer waits."""
    result = await session.execute(
        update(store.cases)
        .where(store.cases.c.case_id == case_id, store.cases.c.status == "awaiting_meeting")
        .values(status="listed", meeting_id=meeting_id, listed_at=now)
    )
    return _rowcount(result) == 1


async def victim_key_of(session: AsyncSession, case_id: str) -> str:
    stmt = select(store.cases.c.victim_key).where(store.cases.c.case_id == case_id)
    return str((await session.execute(stmt)).scalar_one())


MEETINGS_ORDER = (store.meetings.c.date, store.meetings.c.area, store.meetings.c.meeting_id)
"""Meetings by date, then area (one a day per area); the id makes the key unique."""


async def meetings_of(
    session: AsyncSession,
    area: str | None,
    from_date: date | None = None,
    after: Sequence[Any] | None = None,
    limit: int | None = None,
    *,
    to_come: bool = False,
) -> list[Meeting]:
    """Meetings by date: `limit` of them after the one whose (date, area, meeting_id) is
    `after` (a page, `shared.pagination`). `to_come`: only those whose outcome is not
    recorded, the only ones a case may still be listed on (a meeting held today with
    places left takes no case after its outcome)."""
    stmt = select(store.meetings).order_by(*MEETINGS_ORDER).limit(limit)
    if to_come:
        stmt = stmt.where(store.meetings.c.outcome_at.is_(None))
    if area is not None:
        stmt = stmt.where(store.meetings.c.area == area)
    if from_date is not None:
        stmt = stmt.where(store.meetings.c.date >= from_date)
    if after is not None:
        stmt = stmt.where(keyset([(c, False) for c in MEETINGS_ORDER], after))
    return [_meeting(row) for row in (await session.execute(stmt)).all()]


async def find_meeting(session: AsyncSession, meeting_id: str) -> Meeting | None:
    stmt = select(store.meetings).where(store.meetings.c.meeting_id == meeting_id)
    row = (await session.execute(stmt)).first()
    return _meeting(row) if row else None


async def add_meeting(session: AsyncSession, meeting: Meeting, source: str, now: datetime) -> bool:
    """Record a meeting; False when the area already meets that day."""
    stmt = insert(session, store.meetings).values(
        meeting_id=meeting.meeting_id,
        area=meeting.area,
        date=meeting.date,
        capacity=meeting.capacity,
        listed=0,
        source=source,
        created_at=now,
    )
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["area", "date"]))
    return _rowcount(result) == 1


async def take_place(session: AsyncSession, meeting_id: str) -> bool:
    """Take one place on the meeting if it has room and is still to be held: the database
    decides, so two writers can never both take the last place (nor list on a meeting
    whose outcome was just recorded)."""
    result = await session.execute(
        update(store.meetings)
        .where(
            store.meetings.c.meeting_id == meeting_id,
            store.meetings.c.listed < store.meetings.c.capacity,
            store.meetings.c.outcome_at.is_(None),
        )
        .values(listed=store.meetings.c.listed + 1)
    )
    return _rowcount(result) == 1


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0))


def _cases_query() -> Any:
    joined = store.cases.outerjoin(
        store.meetings, store.meetings.c.meeting_id == store.cases.c.meeting_id
    )
    return select(*_case_columns).select_from(joined)


def _meeting(row: Any) -> Meeting:
    return Meeting(row.meeting_id, row.area, row.date, row.capacity, row.listed)


def _case(row: Any) -> MaracCase:
    return MaracCase(
        case_id=row.case_id,
        victim_ref=row.victim_ref,
        area=row.area,
        status="closed" if row.closed_at else cast(CaseStatus, row.status),
        meeting_id=row.meeting_id,
        meeting_date=row.meeting_date,
        earliest_date=row.earliest_date,
        awaiting_since=utc(row.awaiting_since),
        listed_at=utc(row.listed_at) if row.listed_at else None,
        repeat=row.repeat,
        incidents=tuple(_facts(f) for f in row.incidents),
        referrals=tuple(_referral(r) for r in row.referrals or ()),
        deferred=bool(row.deferred),
        research_returned=tuple(row.research_returned or ()),
    )


# incident facts as stored in a case's JSON column, and back


def _party_json(person: Party | None) -> dict[str, Any] | None:
    if person is None:
        return None
    born = person.date_of_birth.isoformat() if person.date_of_birth else None
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "date_of_birth": born,
    }


def _party(data: dict[str, Any] | None) -> Party | None:
    if data is None:
        return None
    born = data.get("date_of_birth")
    return Party(
        data["given_name"], data["family_name"], date.fromisoformat(born) if born else None
    )


def _facts_json(facts: IncidentFacts) -> dict[str, Any]:
    """One incident's facts as JSON."""
    return {
        "incident_id": facts.incident_id,
        "reported_at": facts.reported_at.isoformat(),
        "decided_at": facts.decided_at.isoformat(),
        "criteria": list(facts.criteria),
        "risk_level": facts.risk_level,
        "dash_score": facts.dash_score,
        "children_count": facts.children_count,
        "victim": _party_json(facts.victim),
        "suspect": _party_json(facts.suspect),
        "victim_person_id": facts.victim_person_id,
    }


def _facts(data: dict[str, Any]) -> IncidentFacts:
    """One incident's facts from JSON."""
    victim = _party(data["victim"])
    assert victim is not None
    return IncidentFacts(
        incident_id=data["incident_id"],
        reported_at=datetime.fromisoformat(data["reported_at"]),
        decided_at=datetime.fromisoformat(data["decided_at"]),
        criteria=tuple(data["criteria"]),
        risk_level=data["risk_level"],
        dash_score=data["dash_score"],
        children_count=data["children_count"],
        victim=victim,
        suspect=_party(data["suspect"]),
        victim_person_id=data.get("victim_person_id"),
    )


def _referral_json(facts: ReferralFacts) -> dict[str, Any]:
    """One referral's facts as JSON (in its case's row)."""
    return {
        "marac_referral_id": facts.marac_referral_id,
        "referring_agency": facts.referring_agency,
        "referral_ref": facts.referral_ref,
        "received_at": facts.received_at.isoformat(),
        "criteria": list(facts.criteria),
        "dash_score": facts.dash_score,
        "children_count": facts.children_count,
        "victim": _party_json(facts.victim),
        "suspect": _party_json(facts.suspect),
        "victim_person_id": facts.victim_person_id,
    }


def _referral(data: dict[str, Any]) -> ReferralFacts:
    victim = _party(data["victim"])
    assert victim is not None
    return ReferralFacts(
        marac_referral_id=data["marac_referral_id"],
        referring_agency=data["referring_agency"],
        referral_ref=data["referral_ref"],
        received_at=datetime.fromisoformat(data["received_at"]),
        criteria=tuple(data["criteria"]),
        dash_score=data["dash_score"],
        children_count=data["children_count"],
        victim=victim,
        suspect=_party(data["suspect"]),
        victim_person_id=data.get("victim_person_id"),
    )


# agencies' MARAC referrals


@dataclass(frozen=True)
class KnownReferral:
    """A referral already received under an agency's reference: its id, form digest, case."""

    marac_referral_id: str
    digest: str
    case_id: str


async def referral_by_ref(session: AsyncSession, agency: str, ref: str) -> KnownReferral | None:
    t = store.marac_referrals
    stmt = select(t.c.marac_referral_id, t.c.digest, t.c.case_id).where(
        t.c.referring_agency == agency, t.c.referral_ref == ref
    )
    row = (await session.execute(stmt)).first()
    return KnownReferral(row.marac_referral_id, row.digest, row.case_id) if row else None


async def insert_referral(
    session: AsyncSession,
    facts: ReferralFacts,
    digest: str,
    form: dict[str, Any],
    case_id: str,
    victim_ref: str,
    area: str,
    received_by: str,
) -> None:
    await session.execute(
        store.marac_referrals.insert().values(
            marac_referral_id=facts.marac_referral_id,
            referring_agency=facts.referring_agency,
            referral_ref=facts.referral_ref,
            digest=digest,
            form=form,
            case_id=case_id,
            victim_ref=victim_ref,
            area=area,
            received_at=facts.received_at,
            received_by=received_by,
        )
    )


async def save_referrals(
    session: AsyncSession, case_id: str, referrals: tuple[ReferralFacts, ...]
) -> None:
    await session.execute(
        update(store.cases)
        .where(store.cases.c.case_id == case_id)
        .values(referrals=[_referral_json(r) for r in referrals])
    )


async def find_case(session: AsyncSession, case_id: str) -> MaracCase | None:
    stmt = _cases_query().where(store.cases.c.case_id == case_id)
    row = (await session.execute(stmt)).first()
    return _case(row) if row else None


async def victim_keys(session: AsyncSession, victim_ref: str) -> tuple[str, ...]:
    """The victim's pseudonymous keys (for the log's subjects)."""
    stmt = select(store.identities.c.identity).where(store.identities.c.victim_ref == victim_ref)
    return tuple(sorted((await session.execute(stmt)).scalars()))


# research, one current version per agency, the earlier ones kept


async def current_research(session: AsyncSession, case_id: str) -> list[Research]:
    t = store.research
    stmt = select(t).where(t.c.case_id == case_id, t.c.current.is_(True)).order_by(t.c.agency)
    return [_research(row) for row in (await session.execute(stmt)).all()]


async def research_first_returned(session: AsyncSession, case_id: str) -> dict[str, datetime]:
    """When each agency first returned its research on the case (its first version)."""
    t = store.research
    stmt = (
        select(t.c.agency, func.min(t.c.recorded_at))
        .where(t.c.case_id == case_id)
        .group_by(t.c.agency)
    )
    return {agency: utc(at) for agency, at in (await session.execute(stmt)).all()}


async def research_history(
    session: AsyncSession, case_id: str, agency: str, after: Sequence[Any] | None, limit: int
) -> list[Research]:
    """Every version an agency recorded on a case, the latest first (a page)."""
    t = store.research
    stmt = (
        select(t)
        .where(t.c.case_id == case_id, t.c.agency == agency)
        .order_by(t.c.version.desc())
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(keyset([(t.c.version, True)], after))
    return [_research(row) for row in (await session.execute(stmt)).all()]


async def record_research(session: AsyncSession, research: Research, recorded_by: str) -> Research:
    """The agency's new current version; the one it replaces is kept. Two writers at once
    both try the same next version: the primary key lets one in."""
    t = store.research
    latest = (
        await session.execute(
            select(func.max(t.c.version)).where(
                t.c.case_id == research.case_id, t.c.agency == research.agency
            )
        )
    ).scalar()
    version = int(latest or 0) + 1
    await session.execute(
        update(t)
        .where(t.c.case_id == research.case_id, t.c.agency == research.agency)
        .values(current=False)
    )
    await session.execute(
        t.insert().values(
            case_id=research.case_id,
            agency=research.agency,
            version=version,
            current=True,
            known=research.known,
            summary=research.summary,
            risks=research.risks,
            completed_by=research.completed_by,
            recorded_by=recorded_by,
            recorded_at=research.recorded_at,
        )
    )
    agencies = (
        await session.execute(select(t.c.agency).where(t.c.case_id == research.case_id).distinct())
    ).scalars()
    await session.execute(
        update(store.cases)
        .where(store.cases.c.case_id == research.case_id)
        .values(research_returned=sorted(agencies))
    )
    return replace(research, version=version)


def _research(row: Any) -> Research:
    return Research(
        case_id=row.case_id,
        agency=row.agency,
        version=row.version,
        known=row.known,
        summary=row.summary,
        risks=row.risks,
        completed_by=row.completed_by,
        recorded_at=utc(row.recorded_at),
    )


# actions agreed at the meeting

ACTIONS_ORDER = (store.actions.c.due_by, store.actions.c.action_id)
"""Actions by due date (the most pressing first); the id makes the key unique."""


async def actions_of(session: AsyncSession, case_id: str) -> list[Action]:
    t = store.actions
    stmt = select(t).where(t.c.case_id == case_id).order_by(*ACTIONS_ORDER)
    return [_action(row) for row in (await session.execute(stmt)).all()]


async def find_action(session: AsyncSession, action_id: str) -> Action | None:
    row = (
        await session.execute(select(store.actions).where(store.actions.c.action_id == action_id))
    ).first()
    return _action(row) if row else None


async def find_actions(
    session: AsyncSession,
    area: str | None,
    agency: str | None,
    status: str | None,
    today: date,
    after: Sequence[Any] | None,
    limit: int,
) -> list[Action]:
    """Actions by due date, a page at a time; `overdue` is open past its due date."""
    t = store.actions
    stmt = select(t).order_by(*ACTIONS_ORDER).limit(limit)
    if area is not None:
        stmt = stmt.where(t.c.area == area)
    if agency is not None:
        stmt = stmt.where(t.c.agency == agency)
    if status == "done":
        stmt = stmt.where(t.c.status == "done")
    elif status == "open":
        stmt = stmt.where(t.c.status == "open", t.c.due_by >= today)
    elif status == "overdue":
        stmt = stmt.where(t.c.status == "open", t.c.due_by < today)
    if after is not None:
        stmt = stmt.where(keyset([(c, False) for c in ACTIONS_ORDER], after))
    return [_action(row) for row in (await session.execute(stmt)).all()]


async def insert_action(session: AsyncSession, action: Action) -> None:
    await session.execute(
        store.actions.insert().values(
            action_id=action.action_id,
            case_id=action.case_id,
            area=action.area,
            agency=action.agency,
            description=action.description,
            due_by=action.due_by,
            status="open",
            agreed_at=action.agreed_at,
        )
    )


async def complete_action(
    session: AsyncSession, action_id: str, outcome: str, now: datetime
) -> bool:
    """Mark the action done; False when it already was."""
    t = store.actions
    result = await session.execute(
        update(t)
        .where(t.c.action_id == action_id, t.c.status == "open")
        .values(status="done", outcome=outcome, completed_at=now)
    )
    return _rowcount(result) == 1


async def overdue_unescalated(session: AsyncSession, today: date, limit: int) -> list[Action]:
    t = store.actions
    stmt = (
        select(t)
        .where(t.c.status == "open", t.c.due_by < today, t.c.escalated_at.is_(None))
        .order_by(*ACTIONS_ORDER)
        .limit(limit)
    )
    return [_action(row) for row in (await session.execute(stmt)).all()]


async def mark_escalated(session: AsyncSession, action_id: str, now: datetime) -> bool:
    """Record the escalation once: False when another replica already did."""
    t = store.actions
    result = await session.execute(
        update(t)
        .where(t.c.action_id == action_id, t.c.escalated_at.is_(None), t.c.status == "open")
        .values(escalated_at=now)
    )
    return _rowcount(result) == 1


def _action(row: Any) -> Action:
    return Action(
        action_id=row.action_id,
        case_id=row.case_id,
        area=row.area,
        agency=row.agency,
        description=row.description,
        due_by=row.due_by,
        done=row.status == "done",
        agreed_at=utc(row.agreed_at),
        outcome=row.outcome,
        completed_at=utc(row.completed_at) if row.completed_at else None,
        escalated_at=utc(row.escalated_at) if row.escalated_at else None,
    )


# a meeting's outcome


async def outcome_at(session: AsyncSession, meeting_id: str) -> datetime | None:
    stmt = select(store.meetings.c.outcome_at).where(store.meetings.c.meeting_id == meeting_id)
    found = (await session.execute(stmt)).scalar()
    return utc(found) if found else None


async def mark_outcome(session: AsyncSession, meeting_id: str, now: datetime) -> bool:
    """Record that the meeting's outcome is in; False when it already was."""
    m = store.meetings
    result = await session.execute(
        update(m)
        .where(m.c.meeting_id == meeting_id, m.c.outcome_at.is_(None))
        .values(outcome_at=now)
    )
    return _rowcount(result) == 1


async def close_case(session: AsyncSession, case_id: str, now: datetime) -> None:
    """Discussed: closed, and kept on its meeting (a past listing for the repeat rule)."""
    await session.execute(
        update(store.cases)
        .where(store.cases.c.case_id == case_id)
        .values(closed_at=now, deferred=False)
    )


async def defer_case(session: AsyncSession, case_id: str, earliest: date) -> None:
    """Deferred: off its meeting, waiting again, first in line."""
    await session.execute(
        update(store.cases)
        .where(store.cases.c.case_id == case_id)
        .values(
            status="awaiting_meeting",
            meeting_id=None,
            listed_at=None,
            deferred=True,
            earliest_date=earliest,
        )
    )


# the national dataset return


async def discussed_at(
    session: AsyncSession, area: str, first: date, last: date
) -> list[tuple[Meeting, list[MaracCase]]]:
    """The area's meetings from `first` to `last`, each with the cases discussed at it."""
    meetings = [m for m in await meetings_of(session, area, first) if m.date <= last]
    found = []
    for meeting in meetings:
        stmt = _cases_query().where(
            store.cases.c.meeting_id == meeting.meeting_id, store.cases.c.closed_at.is_not(None)
        )
        found.append((meeting, [_case(row) for row in (await session.execute(stmt)).all()]))
    return found


async def referral_forms(
    session: AsyncSession, case_ids: list[str]
) -> dict[str, list[tuple[datetime, Any]]]:
    """The agencies' referral forms of each case with when each was received, earliest
    first."""
    t = store.marac_referrals
    forms: dict[str, list[tuple[datetime, Any]]] = {c: [] for c in case_ids}
    if not case_ids:
        return forms
    stmt = (
        select(t.c.case_id, t.c.received_at, t.c.form)
        .where(t.c.case_id.in_(case_ids))
        .order_by(t.c.received_at, t.c.marac_referral_id)
    )
    for row in (await session.execute(stmt)).all():
        forms[row.case_id].append((utc(row.received_at), row.form))
    return forms


async def record_equality(
    session: AsyncSession,
    incident_id: str,
    area: str,
    reported_at: datetime,
    equality: dict[str, Any],
    now: datetime,
) -> bool:
    """Keep the equality monitoring given on an incident's victim; False when the incident's
    was already kept (intake gives it once per incident: a redelivery changes nothing)."""
    stmt = insert(session, store.equality_given).values(
        incident_id=incident_id,
        area=area,
        reported_at=reported_at,
        equality=equality,
        received_at=now,
    )
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["incident_id"]))
    return _rowcount(result) == 1


async def equality_of(session: AsyncSession, incident_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The equality monitoring given on each of these incidents that had any, by id."""
    t = store.equality_given
    if not incident_ids:
        return {}
    stmt = select(t.c.incident_id, t.c.equality).where(t.c.incident_id.in_(incident_ids))
    return {row.incident_id: dict(row.equality) for row in (await session.execute(stmt)).all()}


@dataclass(frozen=True)
class StoredReferral:
    """An agency's referral form as received, with where it went."""

    marac_referral_id: str
    case_id: str
    victim_ref: str
    received_at: datetime
    form: dict[str, Any]


async def find_referral(session: AsyncSession, marac_referral_id: str) -> StoredReferral | None:
    t = store.marac_referrals
    row = (
        await session.execute(select(t).where(t.c.marac_referral_id == marac_referral_id))
    ).first()
    if row is None:
        return None
    return StoredReferral(
        row.marac_referral_id, row.case_id, row.victim_ref, utc(row.received_at), dict(row.form)
    )
