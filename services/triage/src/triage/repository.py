"""Triage's queries: incidents, what is on record about their people, decisions.

Returns domain objects; rows never leave this module. The people tables hold keyed
hashes (pseudonyms) and times, never names: a person is found by pseudonym only.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    Column,
    ColumnElement,
    Executable,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import at_commit, chunks, utc
from shared.identity import Identity
from shared.schemas import Dash, IncidentReported, TriageDecided
from shared.schemas.v1 import Regrade
from triage.domain.decision import Case
from triage.domain.policy import TriagePolicy
from triage.domain.referrals import Referral
from triage.domain.trial import Change as TrialChange
from triage.domain.trial import Outcome
from triage.domain.windows import MaracListing, Moment, OnRecord, PastIncident
from triage.store import (
    decisions,
    incident_people,
    incidents,
    marac_listings,
    policies,
    policy_trial_changes,
    policy_trials,
    regrades,
)


@dataclass(frozen=True)
class LatestDecision:
    """An incident's newest stored decision: its version and its data as published."""

    version: int
    data: dict[str, Any]


@dataclass(frozen=True)
class KnownIncident:
    """An incident triage has: the case to decide on, its Kafka key, its latest decision."""

    case: Case
    victim_key: str
    latest: LatestDecision | None


# The statements of the decision path are built once and only bind their values for
# each event: building a statement per call cost more than running it (`make bench`).
_FIND_INCIDENT = (
    select(incidents, *(c for c in incident_people.c if c.name != "incident_id"))
    .join(incident_people, incident_people.c.incident_id == incidents.c.incident_id)
    .where(incidents.c.incident_id == bindparam("incident_id"))
)


async def find_incident(session: AsyncSession, incident_id: str) -> KnownIncident | None:
    """The incident as accepted with its latest DASH and re-grade, its place on record,
    and the referrals its latest decision made; None when triage has not seen it."""
    preloaded: _Preloaded | None = session.info.get(_PRELOADED)
    if preloaded is not None and incident_id in preloaded.absent:
        return None  # the batch's step found it not stored, and nothing stored it since
    row = (await session.execute(_FIND_INCIDENT, {"incident_id": incident_id})).first()
    if row is None:
        return None
    latest = await _latest_decision(session, incident_id)
    referrals = latest.data["referrals"] if latest else []
    case = Case(
        incident=IncidentReported.model_validate(row.incident),
        record=_past_incident(row),
        dash=Dash.model_validate(row.dash) if row.dash else None,
        regrade=Regrade.model_validate(row.regrade) if row.regrade else None,
        referrals=tuple(Referral(**r) for r in referrals),
    )
    return KnownIncident(case, row.victim_key, latest)


def _past_incident(row: Any) -> PastIncident:
    """One row of the people table as the domain sees it."""
    suspect = Identity(row.suspect_pid, row.suspect_ndob)
    return PastIncident(
        incident_id=row.incident_id,
        victim=Identity(row.victim_pid, row.victim_ndob),
        reported_at=utc(row.reported_at),
        seq=int(row.seq),
        suspect=suspect if suspect.hashes else None,
    )


_ADD_INCIDENT = incidents.insert()
_ADD_PEOPLE = incident_people.insert()


async def add_incident(
    session: AsyncSession,
    incident: IncidentReported,
    key: str,
    victim: Identity,
    suspect: Identity | None,
    now: datetime,
) -> KnownIncident:
    """Keep the incident (with its DASH, if it came with one), and its place on the
    victim's and the suspect's record; the incident as `find_incident` would now find it
    (built from what was stored, not read again: a new incident has no decision yet)."""
    incident_id = str(incident.incident_id)
    data = incident.model_dump(mode="json")
    await session.execute(
        _ADD_INCIDENT,
        {
            "incident_id": incident_id,
            "victim_key": key,
            "incident": data,
            "dash": data["dash"],
            "received_at": utc(now),
        },
    )
    reported_at = utc(incident.reported_at)
    added = await session.execute(
        _ADD_PEOPLE,
        {
            "incident_id": incident_id,
            "reported_at": reported_at,
            "victim_pid": victim.person_id,
            "victim_ndob": victim.names_dob,
            "suspect_pid": suspect.person_id if suspect else None,
            "suspect_ndob": suspect.names_dob if suspect else None,
        },
    )
    inserted = cast("CursorResult[Any]", added).inserted_primary_key  # one row's INSERT
    assert inserted is not None, "an INSERT of one row knows its key"
    seq = inserted[0]
    record = PastIncident(
        incident_id=incident_id,
        victim=victim,
        reported_at=reported_at,
        seq=int(seq),
        suspect=suspect if suspect and suspect.hashes else None,
    )
    preloaded: _Preloaded | None = session.info.get(_PRELOADED)
    if preloaded is not None:
        preloaded.absent.discard(incident_id)
        preloaded.add(record)
    case = Case(incident=incident, record=record, dash=incident.dash)
    return KnownIncident(case, key, latest=None)


async def set_dash(session: AsyncSession, incident_id: str, dash: Dash) -> None:
    """Replace the incident's latest DASH."""
    await _set_incident(session, incident_id, dash=dash.model_dump(mode="json"))


async def add_regrade(
    session: AsyncSession, regrade_id: UUID, incident_id: str, grade: Regrade, principal: str
) -> None:
    """Record the CRU's re-grade (who, when, why) and make it the incident's latest."""
    await session.execute(
        regrades.insert().values(
            regrade_id=str(regrade_id),
            incident_id=incident_id,
            risk_level=grade.risk_level,
            reason=grade.reason,
            by=grade.by,
            principal=principal,
            at=utc(grade.at),
        )
    )
    await _set_incident(session, incident_id, regrade=grade.model_dump(mode="json"))


async def _set_incident(session: AsyncSession, incident_id: str, **values: Any) -> None:
    stmt = update(incidents).where(incidents.c.incident_id == incident_id).values(**values)
    await session.execute(stmt)


async def add_listing(
    session: AsyncSession,
    event_id: str,
    case_id: UUID,
    victim: Identity,
    listed_at: datetime,
    incident_ids: Sequence[str],
) -> None:
    """Remember a MARAC listing of the victim (by pseudonym) for `repeat_marac`."""
    row = _Listing(
        event_id, victim.person_id, victim.names_dob, utc(listed_at), tuple(incident_ids)
    )
    await session.execute(
        marac_listings.insert().values(
            event_id=event_id,
            case_id=str(case_id),
            victim_pid=victim.person_id,
            victim_ndob=victim.names_dob,
            listed_at=row.listed_at,
            incident_ids=list(incident_ids),
        )
    )
    preloaded: _Preloaded | None = session.info.get(_PRELOADED)
    if preloaded is not None:
        preloaded.listings.append(row)


async def reported_times(session: AsyncSession, incident_ids: Sequence[str]) -> list[datetime]:
    """When the incidents triage knows of these were reported."""
    if not incident_ids:
        return []
    c = incident_people.c
    stmt = select(c.reported_at).where(c.incident_id.in_(list(incident_ids)))
    return [utc(at) for at in (await session.execute(stmt)).scalars()]


def _matching(
    pid: Column[Any], ndob: Column[Any], who: str, has_pid: bool, has_ndob: bool
) -> ColumnElement[bool]:
    """Rows that may be this person: the same person id; or the same names and date of
    birth where not both carry a person id (two different ids are two people). The
    values are bound as `<who>_pid` and `<who>_ndob` (`_person`)."""
    conditions = []
    if has_pid:
        conditions.append(pid == bindparam(f"{who}_pid"))
    if has_ndob:
        same_names = ndob == bindparam(f"{who}_ndob")
        conditions.append(and_(same_names, pid.is_(None)) if has_pid else same_names)
    return or_(*conditions) if conditions else false()


def _shape(person: Identity | None) -> tuple[bool, bool]:
    return bool(person and person.person_id), bool(person and person.names_dob)


def _person(who: str, person: Identity | None) -> dict[str, str]:
    """The values `_matching` binds for this person."""
    found = {}
    if person and person.person_id:
        found[f"{who}_pid"] = person.person_id
    if person and person.names_dob:
        found[f"{who}_ndob"] = person.names_dob
    return found


def _of_either(victim: tuple[bool, bool], suspect: tuple[bool, bool]) -> ColumnElement[bool]:
    c = incident_people.c
    return or_(
        _matching(c.victim_pid, c.victim_ndob, "victim", *victim),
        _matching(c.suspect_pid, c.suspect_ndob, "suspect", *suspect),
    )


@functools.cache
def _people_statement(victim: tuple[bool, bool], suspect: tuple[bool, bool]) -> Executable:
    # in arrival order: what a batch's pre-loaded history answers gives the same order
    c = incident_people.c
    return select(incident_people).where(_of_either(victim, suspect)).order_by(c.seq)


@functools.cache
def _listings_statement(victim: tuple[bool, bool]) -> Executable:
    m = marac_listings.c
    return (
        select(marac_listings)
        .where(_matching(m.victim_pid, m.victim_ndob, "victim", *victim))
        .order_by(m.listed_at, m.event_id)
    )


_INCIDENTS_IN = select(incident_people).where(
    incident_people.c.incident_id.in_(bindparam("ids", expanding=True))
)


async def incidents_of(
    session: AsyncSession, victim: Identity, suspect: Identity | None
) -> tuple[PastIncident, ...]:
    """Every incident of someone who may be this victim or this suspect (the domain
    decides who really matches)."""
    preloaded: _Preloaded | None = session.info.get(_PRELOADED)
    if preloaded is not None and preloaded.covers(victim, suspect):
        return preloaded.incidents_of(victim, suspect)
    people = {**_person("victim", victim), **_person("suspect", suspect)}
    stmt = _people_statement(_shape(victim), _shape(suspect))
    return tuple(_past_incident(row) for row in await session.execute(stmt, people))


async def on_record(session: AsyncSession, victim: Identity, suspect: Identity | None) -> OnRecord:
    """Every incident of someone who may be this victim or this suspect, and the victim's
    MARAC listings (the domain decides who really matches, and what falls in a window)."""
    past = await incidents_of(session, victim, suspect)
    preloaded: _Preloaded | None = session.info.get(_PRELOADED)
    rows: Sequence[Any]
    if preloaded is not None and preloaded.covers(victim, None):
        rows = preloaded.listings_of(victim)
    else:
        listings_of = _listings_statement(_shape(victim))
        rows = (await session.execute(listings_of, _person("victim", victim))).all()
    listed = {str(i) for row in rows for i in row.incident_ids}
    known: dict[str, Moment] = {}
    if listed:
        for row in await session.execute(_INCIDENTS_IN, {"ids": sorted(listed)}):
            known[row.incident_id] = (utc(row.reported_at), int(row.seq))
    listings = [
        MaracListing(Identity(row.victim_pid, row.victim_ndob), _listing_moment(row, known))
        for row in rows
    ]
    return OnRecord(past, tuple(listings))


@dataclass(frozen=True)
class _Listing:
    """A MARAC listing row, as `on_record` reads it."""

    event_id: str
    victim_pid: str | None
    victim_ndob: str | None
    listed_at: datetime
    incident_ids: tuple[str, ...]


def _is(person: Identity, pid: str | None, ndob: str | None) -> bool:
    """`_matching` in Python: the same person id; or the same names and date of birth
    where not both carry a person id."""
    if person.person_id and pid == person.person_id:
        return True
    return bool(person.names_dob and ndob == person.names_dob and not (person.person_id and pid))


@dataclass
class _Preloaded:
    """A batch's history, read once by `preload` and kept up to date by this transaction's
    own writes (`add_incident`, `add_listing`): every incident and listing stored under
    the person ids in `pids` and the names-and-dates in `ndobs`, so `incidents_of` and
    `on_record` can answer for those people without a query. `absent`: the batch's
    incident ids not stored (yet)."""

    pids: set[str]
    ndobs: set[str]
    absent: set[str]
    by_hash: dict[str, dict[int, PastIncident]]
    listings: list[_Listing]

    def add(self, past: PastIncident) -> None:
        for found in (past.victim, past.suspect):
            for value in found.hashes if found else ():
                self.by_hash.setdefault(value, {})[past.seq] = past

    def covers(self, victim: Identity, suspect: Identity | None) -> bool:
        return all(
            (p.person_id is None or p.person_id in self.pids)
            and (p.names_dob is None or p.names_dob in self.ndobs)
            for p in (victim, suspect)
            if p is not None
        )

    def incidents_of(self, victim: Identity, suspect: Identity | None) -> tuple[PastIncident, ...]:
        """What `_people_statement` finds, in the same order."""
        candidates: dict[int, PastIncident] = {}
        for value in (*victim.hashes, *(suspect.hashes if suspect else ())):
            candidates.update(self.by_hash.get(value, {}))
        none = Identity()
        return tuple(
            past
            for seq, past in sorted(candidates.items())
            if _is(victim, past.victim.person_id, past.victim.names_dob)
            or (
                suspect
                and _is(suspect, (past.suspect or none).person_id, (past.suspect or none).names_dob)
            )
        )

    def listings_of(self, victim: Identity) -> list[_Listing]:
        """What `_listings_statement` finds, in the same order."""
        found = [x for x in self.listings if _is(victim, x.victim_pid, x.victim_ndob)]
        return sorted(found, key=lambda x: (x.listed_at, x.event_id))


_PRELOADED = "triage.preloaded"


async def preload(
    session: AsyncSession, incident_ids: Sequence[str], people: Sequence[People]
) -> None:
    """Read, for a batch, whether its incidents are stored and the history of its people
    (a few queries for the batch, chunked), for `find_incident`, `incidents_of` and
    `on_record` to answer from for the rest of the transaction. Take the holds of the
    batch (`shared.db.hold`) first: on PostgreSQL what is read is then what a replica
    holding the same people committed."""
    pids = {p.person_id for pair in people for p in pair if p and p.person_id}
    ndobs = {p.names_dob for pair in people for p in pair if p and p.names_dob}
    preloaded = _Preloaded(pids, ndobs, set(incident_ids), {}, [])
    for chunk in chunks(sorted(preloaded.absent)):
        stored = select(incidents.c.incident_id).where(incidents.c.incident_id.in_(chunk))
        preloaded.absent.difference_update((await session.execute(stored)).scalars())
    rows, listing_rows = await _history_rows(session, sorted(pids), sorted(ndobs))
    for row in rows.values():
        preloaded.add(_past_incident(row))
    preloaded.listings = [
        _Listing(
            r.event_id,
            r.victim_pid,
            r.victim_ndob,
            utc(r.listed_at),
            tuple(str(i) for i in r.incident_ids),
        )
        for r in listing_rows.values()
    ]
    session.info[_PRELOADED] = preloaded


def _listing_moment(row: Any, known: dict[str, Moment]) -> Moment:
    """A listing counts from the referral it answers: the earliest of its incidents that
    triage knows, in triage's order; from `listed_at` when it knows none of them."""
    moments = [known[str(i)] for i in row.incident_ids if str(i) in known]
    return min(moments) if moments else (utc(row.listed_at), 0)


People = tuple[Identity, Identity | None]


async def _history_rows(
    session: AsyncSession, pids: list[str], ndobs: list[str]
) -> tuple[dict[int, Any], dict[str, Any]]:
    """Every incident (by `seq`) and MARAC listing (by event id) stored under these person
    ids or names-and-dates of birth, as victim or suspect: a few queries, chunked. What a
    trial's batch and a consumer's batch read their people's history from."""
    h, m = incident_people.c, marac_listings.c
    rows: dict[int, Any] = {}
    listing_rows: dict[str, Any] = {}
    for values, columns, listed_by in (
        (pids, (h.victim_pid, h.suspect_pid), m.victim_pid),
        (ndobs, (h.victim_ndob, h.suspect_ndob), m.victim_ndob),
    ):
        for chunk in chunks(values):
            found = select(incident_people).where(or_(*(c.in_(chunk) for c in columns)))
            rows.update((int(r.seq), r) for r in await session.execute(found))
            listed = select(marac_listings).where(listed_by.in_(chunk))
            listing_rows.update((r.event_id, r) for r in await session.execute(listed))
    return rows, listing_rows


async def on_record_many(session: AsyncSession, people: Sequence[People]) -> list[OnRecord]:
    """`on_record` for many incidents' people at once (a trial's batch): a few queries
    in all, not a few each. Each answer may hold more candidates than `on_record`'s (a row
    whose names match but whose person id differs); the domain's identity rule, which
    decides who matches, leaves them out just the same."""
    pids = sorted({p.person_id for pair in people for p in pair if p and p.person_id})
    ndobs = sorted({p.names_dob for pair in people for p in pair if p and p.names_dob})
    rows, listing_rows = await _history_rows(session, pids, ndobs)
    known = await _moments(session, {str(i) for r in listing_rows.values() for i in r.incident_ids})
    by_victim: dict[str, list[PastIncident]] = {}
    by_suspect: dict[str, list[PastIncident]] = {}
    for seq in sorted(rows):
        row = rows[seq]
        past = _past_incident(row)
        for found_hash in past.victim.hashes:
            by_victim.setdefault(found_hash, []).append(past)
        for found_hash in past.suspect.hashes if past.suspect else ():
            by_suspect.setdefault(found_hash, []).append(past)
    listings: dict[str, list[MaracListing]] = {}
    for row in listing_rows.values():
        listing = MaracListing(
            Identity(row.victim_pid, row.victim_ndob), _listing_moment(row, known)
        )
        for found_hash in listing.victim.hashes:
            listings.setdefault(found_hash, []).append(listing)
    answers = []
    for victim, suspect in people:
        candidates = {
            past.seq: past for found_hash in victim.hashes for past in by_victim.get(found_hash, ())
        }
        for found_hash in suspect.hashes if suspect else ():
            candidates.update((past.seq, past) for past in by_suspect.get(found_hash, ()))
        of_victim = {id(x): x for h_ in victim.hashes for x in listings.get(h_, ())}
        answers.append(
            OnRecord(
                tuple(candidates[seq] for seq in sorted(candidates)), tuple(of_victim.values())
            )
        )
    return answers


async def _moments(session: AsyncSession, incident_ids: set[str]) -> dict[str, Moment]:
    """Where these incidents stand in triage's order, for those triage knows."""
    known: dict[str, Moment] = {}
    ids = sorted(incident_ids)
    for chunk in chunks(ids):
        found = await session.execute(_INCIDENTS_IN, {"ids": chunk})
        known.update((r.incident_id, (utc(r.reported_at), int(r.seq))) for r in found)
    return known


_LATEST_DECISION = (
    select(decisions.c.version, decisions.c.decision)
    .where(decisions.c.incident_id == bindparam("incident_id"))
    .order_by(decisions.c.version.desc())
    .limit(1)
)
_ADD_DECISION = decisions.insert()


async def _latest_decision(session: AsyncSession, incident_id: str) -> LatestDecision | None:
    staged: _Staged | None = session.info.get(_STAGED_DECISIONS)
    if staged is not None and incident_id in staged.latest:
        # decided earlier in this transaction, not written yet: newer than any stored
        last = staged.latest[incident_id]
        return LatestDecision(int(last["version"]), dict(last["decision"]))
    row = (await session.execute(_LATEST_DECISION, {"incident_id": incident_id})).first()
    return LatestDecision(int(row.version), dict(row.decision)) if row else None


@dataclass
class _Staged:
    """The decisions of a transaction not written yet: in order, and each incident's last."""

    rows: list[dict[str, Any]]
    latest: dict[str, dict[str, Any]]


_STAGED_DECISIONS = "triage.decisions"


async def add_decision(
    session: AsyncSession, data: TriageDecided, version: int, cause: str, now: datetime
) -> None:
    """Keep a decision as published (without the incident, kept once in `incidents`).

    In a unit of work it is staged and the transaction's decisions are written in one
    statement when it ends (`shared.db.at_commit`: a consumer's batch shares one
    transaction); `_latest_decision` sees a staged decision as the incident's latest, so
    a later event of the same batch decides on it as it would have once it was stored."""
    row = {
        "decision_id": str(data.decision_id),
        "incident_id": str(data.incident_id),
        "version": version,
        "cause": cause,
        "decided_at": utc(now),
        "decision": data.model_dump(mode="json", exclude={"incident"}),
    }
    staged: _Staged | None = session.info.get(_STAGED_DECISIONS)
    if staged is None:
        try:
            at_commit(session, _STAGED_DECISIONS, _write_decisions)
        except RuntimeError:  # not a unit of work's session: nothing would write it later
            await session.execute(_ADD_DECISION, row)
            return
        staged = session.info[_STAGED_DECISIONS] = _Staged([], {})
    staged.rows.append(row)
    staged.latest[str(data.incident_id)] = row


async def _write_decisions(session: AsyncSession) -> None:
    staged: _Staged | None = session.info.pop(_STAGED_DECISIONS, None)
    if staged is not None and staged.rows:
        await session.execute(_ADD_DECISION, staged.rows)


async def current_decision(session: AsyncSession, incident_id: str) -> TriageDecided | None:
    """The latest decision as published (with the incident as accepted), or None."""
    latest = await _latest_decision(session, incident_id)
    if latest is None:
        return None
    stmt = select(incidents.c.incident).where(incidents.c.incident_id == incident_id)
    incident = (await session.execute(stmt)).scalar_one()
    return TriageDecided.model_validate({**latest.data, "incident": incident})


# Policies and policy trials (contract section 4). A trial reads triage's own store, in
# triage's order (reported_at, seq), a batch at a time from a checkpoint.


@dataclass(frozen=True)
class AppliedPolicy:
    """One policy made current: its version, when and by whom."""

    version: str
    applied_at: datetime
    applied_by: str


_APPLIED = select(policies.c.policy).order_by(policies.c.seq.desc()).limit(1)


async def applied_policy(session: AsyncSession) -> TriagePolicy | None:
    """The policy applied last, or None while the settings' initial policy is in force."""
    found = (await session.execute(_APPLIED)).scalar()
    return TriagePolicy.model_validate(found) if found is not None else None


async def policy_history(session: AsyncSession) -> list[AppliedPolicy]:
    """Every policy applied, oldest first."""
    p = policies.c
    rows = await session.execute(select(p.version, p.applied_at, p.applied_by).order_by(p.seq))
    return [AppliedPolicy(r.version, utc(r.applied_at), r.applied_by) for r in rows]


async def policy_applied(session: AsyncSession, version: str) -> bool:
    stmt = select(policies.c.seq).where(policies.c.version == version)
    return (await session.execute(stmt)).first() is not None


async def add_policy(
    session: AsyncSession,
    policy: TriagePolicy,
    trial_id: str,
    since: datetime,
    now: datetime,
    by: str,
) -> None:
    """Make `policy` current, its re-decision of the incidents since `since` to do."""
    await session.execute(
        policies.insert().values(
            version=policy.version,
            policy=policy.model_dump(mode="json"),
            applied_at=utc(now),
            applied_by=by,
            trial_id=trial_id,
            redecide_since=utc(since),
            redecide_status="running",
        )
    )


@dataclass(frozen=True)
class Redecision:
    """An applied policy's re-decision still to finish, and where it got to."""

    seq: int
    version: str
    since: datetime
    after: Moment | None


async def redecisions(session: AsyncSession) -> list[Redecision]:
    """The re-decisions not yet finished, oldest first."""
    p = policies.c
    stmt = select(policies).where(p.redecide_status == "running").order_by(p.seq)
    return [
        Redecision(
            int(r.seq), r.version, utc(r.redecide_since), _moment(r.redecided_at, r.redecided_seq)
        )
        for r in await session.execute(stmt)
    ]


async def save_redecision(
    session: AsyncSession, seq: int, after: Moment | None, done: bool
) -> None:
    values: dict[str, Any] = {"redecide_status": "done" if done else "running"}
    if after is not None:
        values |= {"redecided_at": after[0], "redecided_seq": after[1]}
    await session.execute(update(policies).where(policies.c.seq == seq).values(**values))


def _moment(at: datetime | None, seq: int | None) -> Moment | None:
    return (utc(at), int(seq)) if at is not None and seq is not None else None


def _period(
    since: datetime, until: datetime | None, area: str | None, after: Moment | None
) -> ColumnElement[bool]:
    """Incidents reported in [since, until) (of the area), after `after` in triage's order."""
    h = incident_people.c
    conditions = [h.reported_at >= since]
    if until is not None:
        conditions.append(h.reported_at < until)
    if area is not None:
        conditions.append(incidents.c.incident["area"].as_string() == area)
    if after is not None:
        at, seq = after
        conditions.append(or_(h.reported_at > at, and_(h.reported_at == at, h.seq > seq)))
    return and_(*conditions)


_IN_ORDER = (incident_people.c.reported_at, incident_people.c.seq)
_PEOPLE_AND_INCIDENT = incident_people.join(
    incidents, incidents.c.incident_id == incident_people.c.incident_id
)


async def count_reported(
    session: AsyncSession, since: datetime, until: datetime, area: str | None
) -> int:
    """How many incidents were reported in [since, until), of the area if one is named."""
    stmt = (
        select(func.count())
        .select_from(_PEOPLE_AND_INCIDENT)
        .where(_period(since, until, area, None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def reported_since(
    session: AsyncSession, since: datetime, after: Moment | None, limit: int
) -> list[PastIncident]:
    """The next `limit` incidents reported since `since`, after `after`, in triage's order."""
    stmt = (
        select(incident_people)
        .where(_period(since, None, None, after))
        .order_by(*_IN_ORDER)
        .limit(limit)
    )
    return [_past_incident(row) for row in await session.execute(stmt)]


@dataclass(frozen=True)
class TrialInput:
    """One incident as a trial decides it: the case (latest DASH and re-grade), every
    re-grade oldest first, and its current decision as published."""

    case: Case
    regrades: tuple[Regrade, ...]
    decided: tuple[dict[str, Any], ...]  # every decision published, oldest first

    @property
    def current(self) -> dict[str, Any] | None:
        return self.decided[-1] if self.decided else None


async def trial_inputs(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    area: str | None,
    after: Moment | None,
    limit: int,
) -> list[TrialInput]:
    """The next `limit` incidents of a trial's period after `after`, in triage's order,
    with their re-grades and published decisions (three queries a batch)."""
    stmt = (
        select(incidents, *(c for c in incident_people.c if c.name != "incident_id"))
        .select_from(_PEOPLE_AND_INCIDENT)
        .where(_period(since, until, area, after))
        .order_by(*_IN_ORDER)
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    ids = [row.incident_id for row in rows]
    if not ids:
        return []
    decided: dict[str, list[dict[str, Any]]] = {}
    d = decisions.c
    for found in await session.execute(
        select(d.incident_id, d.decision).where(d.incident_id.in_(ids)).order_by(d.version)
    ):
        decided.setdefault(found.incident_id, []).append(dict(found.decision))
    grades: dict[str, list[Regrade]] = {}
    r = regrades.c
    for grade in await session.execute(
        select(regrades).where(r.incident_id.in_(ids)).order_by(r.at, r.regrade_id)
    ):
        grades.setdefault(grade.incident_id, []).append(
            Regrade(risk_level=grade.risk_level, reason=grade.reason, by=grade.by, at=utc(grade.at))
        )
    return [
        TrialInput(
            Case(
                incident=IncidentReported.model_validate(row.incident),
                record=_past_incident(row),
                dash=Dash.model_validate(row.dash) if row.dash else None,
                regrade=Regrade.model_validate(row.regrade) if row.regrade else None,
            ),
            tuple(grades.get(row.incident_id, ())),
            tuple(decided.get(row.incident_id, ())),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Trial:
    """A policy trial, its period and its progress (`after`: the last incident decided)."""

    trial_id: str
    policy: TriagePolicy
    date_from: date
    date_to: date
    area: str | None
    status: str
    done: int
    total: int
    summary: dict[str, Any]
    after: Moment | None


async def add_trial(session: AsyncSession, trial: Trial, now: datetime, by: str) -> None:
    await session.execute(
        policy_trials.insert().values(
            trial_id=trial.trial_id,
            policy=trial.policy.model_dump(mode="json"),
            version=trial.policy.version,
            date_from=trial.date_from,
            date_to=trial.date_to,
            area=trial.area,
            status=trial.status,
            done=trial.done,
            total=trial.total,
            summary=trial.summary,
            created_at=utc(now),
            created_by=by,
        )
    )


async def find_trial(session: AsyncSession, trial_id: str) -> Trial | None:
    stmt = select(policy_trials).where(policy_trials.c.trial_id == trial_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return Trial(
        trial_id=row.trial_id,
        policy=TriagePolicy.model_validate(row.policy),
        date_from=row.date_from,
        date_to=row.date_to,
        area=row.area,
        status=row.status,
        done=int(row.done),
        total=int(row.total),
        summary=dict(row.summary),
        after=_moment(row.cursor_at, row.cursor_seq),
    )


async def running_trials(session: AsyncSession) -> list[str]:
    """The trials not yet finished, oldest first."""
    t = policy_trials.c
    stmt = select(t.trial_id).where(t.status == "running").order_by(t.created_at, t.trial_id)
    return list((await session.execute(stmt)).scalars())


async def save_trial(
    session: AsyncSession, trial: Trial, changes: Sequence[tuple[int, TrialChange]]
) -> None:
    """Checkpoint a trial: its progress and the changes of the batch, in one transaction."""
    values: dict[str, Any] = {
        "status": trial.status,
        "done": trial.done,
        "total": trial.total,
        "summary": trial.summary,
    }
    if trial.after is not None:
        values |= {"cursor_at": trial.after[0], "cursor_seq": trial.after[1]}
    t = policy_trials.c
    await session.execute(
        update(policy_trials).where(t.trial_id == trial.trial_id).values(**values)
    )
    if changes:
        await session.execute(
            policy_trial_changes.insert(),
            [
                {
                    "trial_id": trial.trial_id,
                    "seq": seq,
                    "incident_id": change.incident_id,
                    "area": change.area,
                    "reported_at": utc(change.reported_at),
                    "before": asdict(change.before),
                    "after": asdict(change.after),
                }
                for seq, change in changes
            ],
        )


async def trial_changes(
    session: AsyncSession, trial_id: str, after: int, limit: int
) -> list[tuple[int, TrialChange]]:
    """The next `limit` changes of a trial after the one numbered `after`, in order."""
    c = policy_trial_changes.c
    stmt = (
        select(policy_trial_changes)
        .where(c.trial_id == trial_id, c.seq > after)
        .order_by(c.seq)
        .limit(limit)
    )
    return [
        (
            int(row.seq),
            TrialChange(
                row.incident_id,
                row.area,
                utc(row.reported_at),
                _outcome(row.before),
                _outcome(row.after),
            ),
        )
        for row in await session.execute(stmt)
    ]


def _outcome(data: dict[str, Any]) -> Outcome:
    return Outcome(
        risk_level=str(data["risk_level"]),
        flags=tuple(data["flags"]),
        criteria=tuple(data["criteria"]),
        referrals=tuple(data["referrals"]),
    )
