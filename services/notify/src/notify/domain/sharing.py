"""What each agency may see: domain.md's information-sharing table, as data.

Each agency's view names the rows of the table it may see and how much of each
(its grant). A row an agency is not granted contributes nothing: its fields are
absent from the referral, never null. How a grant is rendered lives in
`projections`; changing an agreement is a change to this table only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Row = Literal[
    "incident",  # incident id, reported_at, area, risk level
    "victim_identity",  # victim names, date of birth
    "victim_address",
    "victim_contact",  # victim phone / e-mail
    "suspect",  # suspect names, date of birth
    "circumstances",  # relationship, abuse types
    "children",  # names, dates of birth, school, present
    "dash_score",
    "dash_answers",
    "flags",  # flags, MARAC criteria
    "notes",  # the officer's notes
]

Grant = Literal[
    "yes",
    "id_and_time",  # the incident id, date and time (reported_at), not its area
    "names_only",
    "if_safe_to_contact",  # only when the victim said it is safe to contact them
    "this_child",  # only the child the referral is about: names, date of birth, present
    "count_and_ages",
]

View = Mapping[Row, Grant]

VIEWS: Mapping[str, View] = {
    "childrens-social-care": {
        "incident": "yes",
        "victim_identity": "yes",
        "victim_address": "yes",
        "victim_contact": "if_safe_to_contact",
        "suspect": "yes",
        "circumstances": "yes",
        "children": "yes",
        "dash_score": "yes",
        "flags": "yes",
    },
    "school": {
        "incident": "id_and_time",
        "children": "this_child",
    },
    "idva": {
        "incident": "yes",
        "victim_identity": "yes",
        "victim_address": "yes",
        "victim_contact": "if_safe_to_contact",
        "suspect": "yes",
        "circumstances": "yes",
        "children": "count_and_ages",
        "dash_score": "yes",
        "dash_answers": "yes",
        "flags": "yes",
    },
    "safeguarding-team": {
        "incident": "yes",
        "victim_identity": "yes",
        "victim_address": "yes",
        "victim_contact": "yes",
        "suspect": "yes",
        "circumstances": "yes",
        "children": "yes",
        "dash_score": "yes",
        "dash_answers": "yes",
        "flags": "yes",
        "notes": "yes",
    },
    "victim-support": {
        "incident": "yes",
        "victim_identity": "names_only",
        "victim_contact": "if_safe_to_contact",
    },
}
"""Every referral also carries `safe_to_contact`, whatever the view."""
