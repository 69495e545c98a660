"""Free text the hub accepts: no control characters, no bidi tricks, names that show.

Every free-text field of every API is one of these types. NUL and unpaired surrogates
break PostgreSQL and UTF-8 hashing downstream; other control characters and bidi
overrides make one string look like another on a partner's screen (a name that reads
"Alex" but sorts and matches as something else); a name made only of zero-width
characters identifies nobody.
"""

from __future__ import annotations

import unicodedata

from pydantic import AfterValidator

LINE_BREAKS = frozenset("\t\n\r")
# the explicit bidi embeddings, overrides and isolates, and the invisible marks
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def text_problem(value: str, *, multiline: bool = False, visible: bool = False) -> str | None:
    """Why `value` is not acceptable free text, or None."""
    for c in value:
        code = ord(c)
        if 0xD800 <= code <= 0xDFFF:
            return "must not contain unpaired surrogates"
        if unicodedata.category(c) == "Cc" and not (multiline and c in LINE_BREAKS):
            return "must not contain control characters"
        if c in BIDI_CONTROLS:
            return "must not contain bidirectional control characters"
    if visible and not any(unicodedata.category(c)[0] in "LN" for c in value):
        return "must contain at least one letter or digit"
    return None


def checked(*, multiline: bool = False, visible: bool = False) -> AfterValidator:
    """A pydantic validator applying `text_problem`."""

    def check(value: str) -> str:
        if (problem := text_problem(value, multiline=multiline, visible=visible)) is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)
