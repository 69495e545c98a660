"""Signing in and out (contract section 11): one-time links, OpenID Connect, sessions."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import handlers
from console.config import Settings
from console.inputs import NotFoundPage, local, same_token
from console.limits import PerClient
from console.web import FormTokenDep, OidcDep, PersonDep, check_csrf, cookie_name, render
from shared.service import Platform, PlatformDep

router = APIRouter(include_in_schema=False)
OIDC_STATE_COOKIE = "mash_console_oidc_state"
LINK_COOKIE = "mash_console_link"
LINK_PATH = "/sign-in/link"


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


@router.get(LINK_PATH, response_class=HTMLResponse)
async def sign_in_link_page(
    request: Request, platform: PlatformDep, token: Annotated[str, Query(max_length=4096)] = ""
) -> Response:
    """A one-time link from `mash console-link` opens a page that asks to sign in: a
    GET (a link scanner, a prefetch, a page elsewhere) never signs anyone in. The form's
    token is also set in a SameSite=Strict cookie, so only a form on this site posts it."""
    try:
        subject = await handlers.link_holder(platform, token, datetime.now(UTC))
    except handlers.SignInRefused:
        return render(request, "link_refused.html", None, 403)
    form_token = secrets.token_urlsafe(32)
    response = render(
        request, "sign_in_link.html", None, token=token, subject=subject, form_token=form_token
    )
    response.set_cookie(
        link_cookie_name(platform.settings.secure_cookies),
        form_token,
        max_age=600,
        path=LINK_PATH,
        httponly=True,
        samesite="strict",
        secure=platform.settings.secure_cookies,
    )
    return response


@router.post(LINK_PATH)
async def sign_in_with_link(
    request: Request,
    platform: PlatformDep,
    csrf_token: FormTokenDep,
    token: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    """The sign-in page's form: signs the link's holder in, once."""
    name = link_cookie_name(platform.settings.secure_cookies)
    if not same_token(request.cookies.get(name, ""), csrf_token):
        return render(request, "link_refused.html", None, 403, expired_form=True)
    try:
        cookie = await handlers.sign_in_with_link(platform, token, datetime.now(UTC))
    except handlers.SignInRefused:
        return render(request, "link_refused.html", None, 403)
    response = signed_in_response(platform, cookie, "/")
    response.delete_cookie(name, path=LINK_PATH)
    return response


def link_cookie_name(secure: bool) -> str:
    return f"__Secure-{LINK_COOKIE}" if secure else LINK_COOKIE


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
    starts: PerClient = request.app.state.oidc_starts
    if not starts.allow(request.client.host if request.client else "unknown"):
        refused = render(request, "sign_in_refused.html", None, 429, too_many=True)
        refused.headers["Retry-After"] = "60"
        return refused
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
    if not same_token(request.cookies.get(OIDC_STATE_COOKIE, ""), state):
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
    csrf_token: FormTokenDep,
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
