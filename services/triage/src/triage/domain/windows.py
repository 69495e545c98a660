"""What triage remembers about people, and the windows it counts them in.

Windows count by `reported_at`, not by arrival, so a backfill in date order gives the
answers live traffic gave. A window of N days "before reported_at" is the half-open
interval [reported_at - N x 24 h, reported_at): something exactly 365 days earlier is
inside a 365-day window, something 365 days and a second earlier is not. Three years
are calendar years (29 February steps back to 28 February). Incidents reported at the
same instant are ordered by arrival (`seq`), so "earlier" is always a strict order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.identity import Identity, same_person

Moment = tuple[datetime, int]
"""When something happened in triage's order: (reported_at, arrival sequence)."""

LONGEST_WINDOW = timedelta(days=3 * 366)  # the serial-perpetrator window, with room to spare
REDECIDE_AT_MOST = 100


@dataclass(frozen=True)
class PastIncident:
    """One incident on record: its victim, its suspect (if identifiable), and when."""

    incident_id: str
    victim: Identity
    reported_at: datetime
    seq: int
    suspect: Identity | None = None

    @property
    def moment(self) -> Moment:
        return (self.reported_at, self.seq)


@dataclass(frozen=True)
class MaracListing:
    """A victim listed at a MARAC, at the moment of the referral the listing answers."""

    victim: Identity
    moment: Moment


@dataclass(frozen=True)
class OnRecord:
    """What is on record about an incident's people: the incidents and MARAC listings the
    store found by their identity hashes (candidates: the rules decide who matches)."""

    incidents: tuple[PastIncident, ...] = ()
    listings: tuple[MaracListing, ...] = field(default=())


def days_before(at: datetime, days: int) -> datetime:
    """The start of the window of `days` x 24 hours before `at`."""
    return at - timedelta(days=days)


def years_before(at: datetime, years: int) -> datetime:
    """The same instant `years` calendar years earlier (29 February -> 28 February)."""
    try:
        return at.replace(year=at.year - years)
    except ValueError:
        return at.replace(year=at.year - years, day=28)


def earlier_within(moment: Moment, current: Moment, start: datetime) -> bool:
    """True when `moment` lies in [start, current) in triage's order."""
    return start <= moment[0] and moment < current


def prior_incidents(current: PastIncident, on_record: OnRecord, days: int) -> int:
    """The victim's earlier incidents in the `days` before this one."""
    start = days_before(current.reported_at, days)
    return sum(
        1
        for past in on_record.incidents
        if past.incident_id != current.incident_id
        and same_person(past.victim, current.victim)
        and earlier_within(past.moment, current.moment, start)
    )


def victims_of_suspect(current: PastIncident, on_record: OnRecord, years: int) -> int:
    """Different identifiable victims on record against this incident's suspect, this
    victim included.

    domain.md: an unidentifiable victim never adds to the count, whichever incident it is
    on. They may be any of the others, and a false "serial perpetrator" is a false match by
    another name; counting only one side would make the answer depend on arrival order.
    """
    if current.suspect is None:
        return 0
    start = years_before(current.reported_at, years)
    victims = [current.victim] if current.victim.hashes else []
    for past in on_record.incidents:
        if (
            past.incident_id != current.incident_id
            and past.suspect is not None
            and past.victim.hashes
            and same_person(past.suspect, current.suspect)
            and earlier_within(past.moment, current.moment, start)
            and not any(same_person(past.victim, known) for known in victims)
        ):
            victims.append(past.victim)
    return len(victims)


def listed_at_marac(current: PastIncident, on_record: OnRecord, days: int) -> bool:
    """Whether the victim was listed at a MARAC in the `days` before this incident."""
    start = days_before(current.reported_at, days)
    return any(
        same_person(listing.victim, current.victim)
        and earlier_within(listing.moment, current.moment, start)
        for listing in on_record.listings
    )


def reported_later(
    incidents: Iterable[PastIncident], after: datetime, exclude: Collection[str] = ()
) -> list[str]:
    """Of these incidents on record, the ones reported after `after` and within the
    longest window, earliest first and at most `REDECIDE_AT_MOST`: the ones whose
    decisions something arriving late at `after` (an incident, a listing) can change."""
    until = after + LONGEST_WINDOW
    later = sorted(
        (p for p in incidents if after < p.reported_at <= until and p.incident_id not in exclude),
        key=lambda p: p.moment,
    )
    return [p.incident_id for p in later[:REDECIDE_AT_MOST]]
