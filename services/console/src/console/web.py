"""What every page shares: templates, the signed-in person, CSRF, and the error pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from console import formats, handlers
from console.calls import Calls
from console.domain.people import Person
from console.inputs import BadRequest, NotFoundPage, same_token
from console.oidc import Oidc
from console.upstream import NotFound, Refused, Rejected, SignInAgain, Unavailable
from shared.service import PlatformDep
from shared.topics import AGENCIES

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates")
TEMPLATES.env.filters.update(formats.FILTERS)
TEMPLATES.env.globals["agencies_all"] = AGENCIES
COOKIE = "mash_console_session"
SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    """The person may not see this page."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def cookie_name(secure: bool) -> str:
    # `__Host-` pins the cookie to this host and path, over HTTPS only
    return f"__Host-{COOKIE}" if secure else COOKIE


def render(
    request: Request,
    template: str,
    person: Person | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"person": person, "path": request.url.path, **context},
        status_code=status_code,
    )


async def current_person(request: Request, platform: PlatformDep) -> Person:
    """The signed-in person; otherwise, off to the sign-in page."""
    settings = platform.settings
    cookie = request.cookies.get(cookie_name(settings.secure_cookies))
    person = await handlers.signed_in(platform, cookie, datetime.now(UTC))
    if person is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    request.state.person = person
    return person


async def upstream_of(request: Request) -> Calls:
    upstream: Calls = request.app.state.upstream
    return upstream


async def form_token(request: Request) -> object:
    """The form's `csrf_token` as sent (a string, a file, or nothing): judged by
    `check_csrf`, so that anything but the session's token is a 403, never a 400 or 5xx."""
    try:
        form = await request.form()
    except Exception:  # noqa: BLE001 - a body that is not a form carries no token
        return None
    return form.get("csrf_token")


async def oidc_of(request: Request) -> Oidc:
    oidc: Oidc = request.app.state.oidc
    return oidc


PersonDep = Annotated[Person, Depends(current_person)]
OidcDep = Annotated[Oidc, Depends(oidc_of)]
UpstreamDep = Annotated[Calls, Depends(upstream_of)]
FormTokenDep = Annotated[object, Depends(form_token)]


def needs(person: Person, *any_of: str) -> None:
    if not person.may(*any_of):
        raise Forbidden(f"Your account does not have the '{any_of[0]}' permission.")


def slug(value: str | None, what: str) -> str | None:
    """A query's area or agency: a slug, or a 400 page."""
    if value is None or value == "":
        return None
    if len(value) > 64 or not SLUG.match(value):
        raise BadRequest(f"'{what}' must be a lower-case name such as 'southampton'.")
    return value


def check_csrf(person: Person, submitted: object) -> None:
    """Every form carries the session's CSRF token; without it, nothing happens."""
    if not same_token(person.csrf_token, submitted):
        raise Forbidden("The form has expired or did not come from this site. Please try again.")


def install_pages(app: FastAPI) -> None:
    """HTML answers for the pages' refusals, absences and failures (the API's problem
    details stay for `/v1`-style clients, of which the console has none)."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/sign-in?next={quote(exc.next_path, safe='')}", 303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, "You cannot see this page", exc.detail)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return _error(request, 403, "You cannot see this page", f"{exc} refused your account.")

    @app.exception_handler(SignInAgain)
    async def _sign_in_again(request: Request, exc: SignInAgain) -> Response:
        # the page needs the person's own access token, which is over: a session of the
        # console's is not enough for it (a 403 with the way back; a 401 would need a
        # WWW-Authenticate scheme, which a cookie session has not)
        return _error(
            request,
            403,
            "Please sign in again",
            f"To use this page, the {exc} service needs your own sign-in, which has"
            " expired. Sign in again to continue.",
            sign_in_again=request.url.path,
        )

    @app.exception_handler(Rejected)
    async def _rejected(request: Request, exc: Rejected) -> Response:
        title = "There is a problem with the address" if exc.status < 500 else "Sorry"
        return _error(request, exc.status, title, f"The {exc.service} service said: {exc.detail}")

    @app.exception_handler(BadRequest)
    async def _bad(request: Request, exc: BadRequest) -> Response:
        return _error(request, 400, "There is a problem with the address", exc.detail)

    @app.exception_handler(NotFoundPage)
    @app.exception_handler(NotFound)
    async def _absent(request: Request, exc: Exception) -> Response:
        return _error(request, 404, "Page not found", "There is nothing at this address.")

    # the console's addresses are pages: their refusals are pages too, for browsers
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(
            request, 400, "There is a problem with the address", "A value in it is not valid."
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(request, 404, "Page not found", "There is nothing at this address.")
        return _error(request, exc.status_code, "Sorry, this did not work", str(exc.detail))

    @app.exception_handler(Unavailable)
    async def _down(request: Request, exc: Unavailable) -> Response:
        return _error(
            request,
            503,
            "Sorry, there is a problem with the service",
            f"The {exc.service} service is not answering. Try again later.",
        )


def _error(request: Request, status: int, title: str, detail: str, **context: Any) -> HTMLResponse:
    person = getattr(request.state, "person", None)
    return render(request, "error.html", person, status, title=title, detail=detail, **context)
