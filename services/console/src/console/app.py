"""The console's composition root."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry.sdk.trace.export import SpanExporter
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from console import (
    api,
    board,
    marac_actions,
    marac_pages,
    marac_refer,
    policy_pages,
    records,
    review_pages,
    signin,
    store,
)
from console.calls import Calls
from console.config import Settings
from console.consumer import consumers
from console.limits import PerClient, Purge
from console.oidc import Oidc
from console.web import install_pages
from shared.service import Platform
from shared.service import create_app as build

HERE = Path(__file__).resolve().parents[2]
MIGRATIONS = HERE / "migrations"
OWN_ASSETS = HERE / "static"
# scripts and styles come from this host only; no frames, no forms to elsewhere
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)


HSTS = "max-age=31536000; includeSubDomains"
PURGE_SECONDS = 60.0
PROBES = ("/healthz", "/readyz", "/metrics")
MARAC_PAGES = (marac_refer.router, marac_pages.router, marac_actions.router)
"""The meeting itself (contract section 6): referral form, cases, research, actions, return."""


def create_app(settings: Settings | None = None, exporters: Sequence[SpanExporter] = ()) -> FastAPI:
    """The console: pages for partner staff, MARAC coordinators and the MASH's managers."""
    settings = settings or Settings()
    platform = Platform("console", settings, store.messages, MIGRATIONS, exporters)
    upstream = Calls(settings)
    oidc = Oidc(settings)
    purge = Purge(PURGE_SECONDS)

    async def start(running: Platform[Settings]) -> None:
        await upstream.start(running)
        await oidc.start(running)
        await purge.start(running)

    async def stop(running: Platform[Settings]) -> None:
        await purge.stop(running)
        await oidc.stop(running)
        await upstream.stop(running)

    app = build(
        platform,
        title="MASH console",
        description="Server-rendered pages: partner inboxes, MARAC lists, the dashboard.",
        routers=[
            signin.router,
            api.router,
            board.router,
            records.router,
            *MARAC_PAGES,
            policy_pages.router,
            review_pages.router,
        ],
        consumers=consumers(platform),
        extra_start=start,
        extra_stop=stop,
        # a sign-in link's token (and the OpenID answer's code) never reach the traces
        untraced=("sign-in/link", "sign-in/oidc/callback"),
    )
    app.state.upstream = upstream
    app.state.oidc = oidc
    app.state.oidc_starts = PerClient(settings.oidc_starts_per_minute)
    install_pages(app)
    govuk = settings.assets_dir / "govuk-frontend" / "dist" / "govuk"
    mounts = {
        # images only: the GOV.UK Transport typeface is for GOV.UK's own services
        "/assets/images": govuk / "assets" / "images",
        "/static/govuk": govuk,
        "/static/chart.js": settings.assets_dir / "chart.js" / "dist",
        "/static/console": OWN_ASSETS,
    }
    for path, directory in mounts.items():
        app.mount(path, StaticFiles(directory=directory, check_dir=False), name=path)

    @app.middleware("http")
    async def page_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith(("/static", "/assets")):
            response.headers.setdefault("Cache-Control", "no-store")
        if settings.secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    if settings.hub.env == "production":
        hosts = [urlsplit(settings.base_url).hostname or "", *settings.allowed_hosts]
        app.add_middleware(TrustedHosts, allowed_hosts=[h for h in hosts if h])
    return app


class TrustedHosts:
    """Starlette's TrustedHostMiddleware for the pages, not the probes: the kubelet asks
    `/healthz` and `/readyz` by the pod's address."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.checked = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PROBES:
            await self.app(scope, receive, send)
        else:
            await self.checked(scope, receive, send)
