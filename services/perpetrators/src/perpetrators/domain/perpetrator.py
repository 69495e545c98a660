"""A perpetrator as the neighbourhood team sees them: who, where, the score and its parts."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime

from perpetrators.domain.scoring import Incident, Score
from shared.identity import Identity


@dataclass(frozen=True)
class PersonDetails:
    """The suspect's names and date of birth (from their latest incident)."""

    given_name: str
    family_name: str
    date_of_birth: date | None


@dataclass(frozen=True)
class ScoreChange:
    scored_at: datetime
    score: int


@dataclass(frozen=True)
class Perpetrator:
    """One perpetrator's standing: the latest score, and whether they are in the cohort."""

    perpetrator_id: str
    area: str
    person: PersonDetails
    score: Score
    priority: bool
    last_incident_id: str | None = None
    incident_ids: tuple[str, ...] = ()
    history: tuple[ScoreChange, ...] = ()


@dataclass(frozen=True)
class IncidentOnRecord:
    """One incident of a perpetrator as kept: what scores it, where, and whom to visit."""

    incident: Incident
    area: str
    decided_at: datetime
    suspect: PersonDetails


def perpetrator_id(secret: str, identity: Identity) -> str:
    """A new perpetrator's pseudonym, from their strongest identity hash.

    Derived apart from the victims' Kafka keys ("perpetrator:"), so a person who is a
    suspect here and a victim elsewhere cannot be linked by the two pseudonyms.
    """
    strongest = identity.hashes[0]
    message = f"perpetrator:{strongest}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
