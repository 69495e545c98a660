"""Who a suspect or victim is, as keyed hashes: domain.md's identity rule.

Two records match when both carry a person id and the ids are equal; failing that, when
names and date of birth are equal. A record with neither matches nobody.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from shared.identity import identities, pseudonym
from shared.schemas import Person


@dataclass(frozen=True)
class Identity:
    """A person's keyed hashes: of the person id, and of names plus date of birth."""

    person_id: str | None = None
    names_dob: str | None = None

    @property
    def hashes(self) -> tuple[str, ...]:
        """The hashes this person can be found by (none: unidentifiable)."""
        return tuple(h for h in (self.person_id, self.names_dob) if h)


def identify(secret: str, person: Person) -> Identity:
    """The keyed-hash identity of `person`, as triage and marac compute it."""
    found = identities(
        person.person_id, person.given_name, person.family_name, person.date_of_birth
    )
    by_id = next((pseudonym(secret, i) for i in found if i.startswith("pid:")), None)
    by_names = next((pseudonym(secret, i) for i in found if i.startswith("ndob:")), None)
    return Identity(person_id=by_id, names_dob=by_names)


def same_person(a: Identity, b: Identity) -> bool:
    """The same person id; failing that (one or both without), the same names and birth."""
    if a.person_id and b.person_id:
        return a.person_id == b.person_id
    return a.names_dob is not None and a.names_dob == b.names_dob


def perpetrator_id(secret: str, identity: Identity) -> str:
    """A new perpetrator's pseudonym, from their strongest identity hash.

    Derived apart from the victims' Kafka keys ("perpetrator:"), so a person who is a
    suspect here and a victim elsewhere cannot be linked by the two pseudonyms.
    """
    strongest = identity.hashes[0]
    message = f"perpetrator:{strongest}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
