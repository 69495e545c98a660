"""Signing in and out (contract section 11): one-time links, OpenID Connect, sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import handlers
from console.config import Settings
from console.web import NotFoundPage, OidcDep, PersonDep, check_csrf, cookie_name, render
from shared.service import Platform, PlatformDep

router = APIRouter(include_in_schema=False)
OIDC_STATE_COOKIE = "mash_console_oidc_state"


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, platform: PlatformDep) -> Response:
    settings = platform.settings
    return render(
        request,
        "sign_in.html",
        None,
        oidc=bool(settings.oidc_issuer and settings.oidc_client_id),
        next=local(request.query_params.get("next")),
        signed_out="signed_out" in request.query_params,
    )


@router.get("/sign-in/link")
async def sign_in_with_link(
    request: Request, platform: PlatformDep, token: Annotated[str, Query(max_length=4096)] = ""
) -> Response:
    """A one-time link from `mash console-link`: signs its holder in, once."""
    try:
        cookie = await handlers.sign_in_with_link(platform, token, datetime.now(UTC))
    except handlers.SignInRefused:
        return render(request, "link_refused.html", None, 403)
    return signed_in_response(platform, cookie, "/")


@router.get("/sign-in/oidc")
async def sign_in_with_oidc(
    request: Request,
    platform: PlatformDep,
    oidc: OidcDep,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Off to the OpenID provider (authorization code with PKCE)."""
    if not oidc.enabled:
        raise NotFoundPage
    try:
        pending = await handlers.begin_oidc(platform, oidc, local(next), datetime.now(UTC))
    except handlers.SignInRefused:
        return render(request, "sign_in_refused.html", None, 503, provider_down=True)
    response = RedirectResponse(pending.url, 303)
    # binds the answer to this browser; Lax, as the provider's redirect is a cross-site GET
    response.set_cookie(
        OIDC_STATE_COOKIE,
        pending.state,
        max_age=600,
        path="/sign-in/oidc",
        httponly=True,
        samesite="lax",
        secure=platform.settings.secure_cookies,
    )
    return response


@router.get("/sign-in/oidc/callback")
async def oidc_callback(
    request: Request,
    platform: PlatformDep,
    oidc: OidcDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """The provider's answer: a session, or a refusal page (a refused login, a replayed or
    foreign answer)."""
    if not oidc.enabled:
        raise NotFoundPage
    if not state or request.cookies.get(OIDC_STATE_COOKIE) != state:
        return render(request, "sign_in_refused.html", None, 403)
    try:
        cookie, next_path = await handlers.finish_oidc(
            platform, oidc, state, code, datetime.now(UTC)
        )
    except handlers.SignInRefused:
        return render(request, "sign_in_refused.html", None, 403)
    # a page, not a redirect: the next request is then this site's own, so the
    # SameSite=Strict session cookie goes with it even after a cross-site provider
    response = render(request, "signed_in.html", None, next=local(next_path))
    set_session_cookie(response, platform, cookie)
    response.delete_cookie(OIDC_STATE_COOKIE, path="/sign-in/oidc")
    return response


def local(path: str | None) -> str:
    """Only a path on this site is a place to go after sign-in."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def signed_in_response(platform: Platform[Settings], cookie: str, next_path: str) -> Response:
    response = RedirectResponse(local(next_path), 303)
    set_session_cookie(response, platform, cookie)
    return response


def set_session_cookie(response: Response, platform: Platform[Settings], cookie: str) -> None:
    settings = platform.settings
    response.set_cookie(
        cookie_name(settings.secure_cookies),
        cookie,
        max_age=settings.session_minutes * 60,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )


@router.post("/sign-out")
async def sign_out(
    request: Request,
    platform: PlatformDep,
    person: PersonDep,
    csrf_token: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    check_csrf(person, csrf_token)
    settings = platform.settings
    name = cookie_name(settings.secure_cookies)
    await handlers.sign_out(platform, request.cookies.get(name, ""), datetime.now(UTC))
    response = RedirectResponse("/sign-in?signed_out=1", 303)
    response.delete_cookie(
        name, path="/", httponly=True, samesite="strict", secure=settings.secure_cookies
    )
    return response
