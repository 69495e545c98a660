"""Who a person is, for repeat detection, and the pseudonymous key that stands for them.

Two person records match when both carry the same `person_id`; failing that, when
the normalised given name, family name and date of birth are all equal. A record
with neither matches nobody: a false match is worse than a missed one.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import date


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
