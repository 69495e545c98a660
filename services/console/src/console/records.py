"""The records page (contract sections 11 and 12, scope `records:read`): search a person
by their id, or by names and date of birth, and see in time order who collected,
combined, consulted and received their data.

The search is a POST with the session's CSRF token, and so is each next page: a
person's names or date of birth never appear in an address (browser history, proxies'
logs, Referer). They go to the records service in a request body and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse

from console.inputs import EARLIEST_BIRTH, cursor, text_field
from console.upstream import Page
from console.web import FormTokenDep, PersonDep, UpstreamDep, check_csrf, needs, render

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]


@dataclass
class Search:
    """The form as filled in, and what is wrong with it (field id -> message)."""

    person_id: str = ""
    given_name: str = ""
    family_name: str = ""
    day: str = ""
    month: str = ""
    year: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, str]:
        """The records service's search body (contract section 12)."""
        found: dict[str, str] = {}
        if self.person_id:
            found["person_id"] = self.person_id
        if self.given_name or self.family_name or self.birth():
            found |= {"given_name": self.given_name, "family_name": self.family_name}
            found["date_of_birth"] = self.birth() or ""
        return found

    def birth(self) -> str | None:
        try:
            born = date(int(self.year), int(self.month), int(self.day))
        except ValueError:
            return None
        return born.isoformat() if EARLIEST_BIRTH <= born <= date.today() else None


def checked(search: Search) -> Search:
    """A person id alone, or both names and a date of birth (or all of them)."""
    errors = search.errors
    for name, label in (
        ("person_id", "The person id"),
        ("given_name", "The given name"),
        ("family_name", "The family name"),
    ):
        value = text_field(getattr(search, name))
        if value is None:
            errors[name] = f"{label} must be at most 100 letters, without control characters."
        setattr(search, name, value or "")
    by_names = any((search.given_name, search.family_name, search.day, search.month, search.year))
    if not search.person_id and not by_names:
        errors.setdefault("person_id", "Enter a person id, or names and a date of birth.")
    if by_names:
        if not search.given_name:
            errors.setdefault("given_name", "Enter the given name.")
        if not search.family_name:
            errors.setdefault("family_name", "Enter the family name.")
        if search.birth() is None:
            errors["date_of_birth-day"] = "Enter a real date of birth, for example 27 3 1990."
    return search


@router.get("/records", response_class=HTMLResponse)
async def records_page(request: Request, person: PersonDep) -> Response:
    needs(person, "records:read")
    return render(request, "records.html", person, search=Search(), page=None)


@router.post("/records", response_class=HTMLResponse)
async def records_search(
    request: Request,
    person: PersonDep,
    upstream: UpstreamDep,
    csrf_token: FormTokenDep,
    person_id: Field = "",
    given_name: Field = "",
    family_name: Field = "",
    day: Annotated[str, Form(alias="date_of_birth-day", max_length=10)] = "",
    month: Annotated[str, Form(alias="date_of_birth-month", max_length=10)] = "",
    year: Annotated[str, Form(alias="date_of_birth-year", max_length=10)] = "",
    after: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    check_csrf(person, csrf_token)
    needs(person, "records:read")
    search = checked(Search(person_id, given_name, family_name, day, month, year))
    if search.errors:
        return render(request, "records.html", person, 400, search=search, page=None)
    found: Page = await upstream.records_of(person, search.body(), cursor(after))
    context: dict[str, Any] = {"search": search, "page": found, "later": bool(after)}
    return render(request, "records.html", person, **context)
