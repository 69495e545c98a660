"""Who a person is (domain.md "Identity"), the pseudonymous key that stands for a victim,
and a person's age: the one copy every service uses, so they can never drift apart.

Two person records match when both carry the same `person_id`; failing that (one or
both without), when the normalised given name, family name and date of birth are all
equal. Two different person ids are two people even if names and date of birth agree,
and a record with neither matches nobody: a false match is worse than a missed one.

Services keep people as an `Identity` (keyed hashes, never names) and compare them with
`same_person`. A handler that finds or records a person by these hashes holds them
first (`shared.db.hold(session, identity.hashes)`): see docs/shape.md.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from shared.schemas import Person
from shared.schemas.v1 import VictimKeys


def normalise_name(name: str) -> str:
    """Case-folded letters only, accents removed: 'O'Brien-Smith' -> 'obriensmith'."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if ch.isalpha() and not unicodedata.combining(ch))


def identities(
    person_id: str | None, given_name: str, family_name: str, date_of_birth: date | None
) -> list[str]:
    """The identity strings a person can be matched by, strongest first (maybe none)."""
    found = []
    if person_id:
        found.append(f"pid:{person_id.strip().upper()}")
    if date_of_birth is not None:
        given, family = normalise_name(given_name), normalise_name(family_name)
        if given and family:
            found.append(f"ndob:{given}|{family}|{date_of_birth.isoformat()}")
    return found


def pseudonym(secret: str, identity: str) -> str:
    """A keyed hash of an identity: stable, and useless without the secret."""
    return hmac.new(secret.encode(), identity.encode(), hashlib.sha256).hexdigest()


def keyed_identities(
    secret: str,
    person_id: str | None,
    given_name: str,
    family_name: str,
    date_of_birth: date | None,
) -> tuple[str | None, str | None]:
    """A person's keyed hashes: of the person id, and of names plus date of birth (either
    none when the record lacks it). What travels instead of the person, where a reader must
    match people (marac's listings, read by triage)."""
    found = identities(person_id, given_name, family_name, date_of_birth)
    by_id = next((pseudonym(secret, i) for i in found if i.startswith("pid:")), None)
    by_names = next((pseudonym(secret, i) for i in found if i.startswith("ndob:")), None)
    return by_id, by_names


@dataclass(frozen=True)
class Identity:
    """A person's keyed hashes: of the person id, and of names plus date of birth."""

    person_id: str | None = None
    names_dob: str | None = None

    @property
    def hashes(self) -> tuple[str, ...]:
        """The hashes this person can be found by, strongest first (none for someone
        unidentifiable); also the names a handler holds them by."""
        return tuple(h for h in (self.person_id, self.names_dob) if h)


def keys_of_fields(
    secret: str,
    person_id: str | None,
    given_name: str,
    family_name: str,
    date_of_birth: date | None,
) -> tuple[str, ...]:
    """Every keyed hash of a person given field by field (a search form, a record read
    back as JSON): the same keys `identify(...).hashes` gives for the same person."""
    found = identities(person_id, given_name, family_name, date_of_birth)
    return tuple(pseudonym(secret, i) for i in found)


def identify(secret: str, person: Person) -> Identity:
    """The pseudonymous identity of `person`."""
    by_id, by_names = keyed_identities(
        secret, person.person_id, person.given_name, person.family_name, person.date_of_birth
    )
    return Identity(person_id=by_id, names_dob=by_names)


def from_keys(keys: VictimKeys) -> Identity:
    """A person an event names only by their keys (marac's listing: `victim_keys`)."""
    return Identity(person_id=keys.person_id, names_dob=keys.names_dob)


def same_person(a: Identity, b: Identity) -> bool:
    """domain.md: the same person id; failing that, the same names and date of birth."""
    if a.person_id and b.person_id:
        return a.person_id == b.person_id
    return a.names_dob is not None and a.names_dob == b.names_dob


def victim_key(secret: str, victim: Person, incident_id: UUID | str) -> str:
    """The Kafka key of every event about this victim: the keyed hash of their strongest
    identity, so one victim's events share a partition and stay in order; it reveals nobody.

    A victim who cannot be identified gets a key of their own incident, so that the
    incident and its later DASH still stay in order.
    """
    found = identities(
        victim.person_id, victim.given_name, victim.family_name, victim.date_of_birth
    )
    return pseudonym(secret, found[0] if found else f"incident:{incident_id}")


def age_on(born: date, day: date) -> int:
    """Age in whole years on `day` (born on 29 February: a year older on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
