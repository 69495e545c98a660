"""Who a person is, as pseudonyms: domain.md's identity rule over keyed hashes.

Two records match when both carry a person id and the ids are equal; failing that
(one or both without a person id), when names and date of birth are equal. Two
different person ids are two people even if names and date of birth agree, and a
record with neither matches nobody: a false match is worse than a missed one.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.identity import keyed_identities
from shared.schemas import Person
from shared.schemas.v1 import VictimKeys


@dataclass(frozen=True)
class Identity:
    """A person's keyed hashes: of the person id, and of names plus date of birth."""

    person_id: str | None = None
    names_dob: str | None = None

    @property
    def hashes(self) -> tuple[str, ...]:
        """The hashes this person can be found by (none for someone unidentifiable)."""
        return tuple(h for h in (self.person_id, self.names_dob) if h)


def identify(secret: str, person: Person) -> Identity:
    """The pseudonymous identity of `person`."""
    by_id, by_names = keyed_identities(
        secret, person.person_id, person.given_name, person.family_name, person.date_of_birth
    )
    return Identity(person_id=by_id, names_dob=by_names)


def listed_victim(keys: VictimKeys) -> Identity:
    """A MARAC-listed victim's identity, as marac publishes it (keys only, no person)."""
    return Identity(person_id=keys.person_id, names_dob=keys.names_dob)


def same_person(a: Identity, b: Identity) -> bool:
    """domain.md: the same person id; failing that, the same names and date of birth."""
    if a.person_id and b.person_id:
        return a.person_id == b.person_id
    return a.names_dob is not None and a.names_dob == b.names_dob
