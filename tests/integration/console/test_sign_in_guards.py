"""Sign-in under attack (issue 20): a sign-in link's GET signs nobody in; OpenID starts
are limited per client and their expired rows purged; the ID token's algorithms and
issuer are the configured ones; HSTS over https. The OpenID provider is a small stand-in
on loopback serving its discovery document and keys (the full flow against a real
provider is tests/e2e/test_console_oidc.py)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from sqlalchemy import func, select, update

import console.app
from console import store
from console.limits import Purge
from console.oidc import Oidc, OidcRefused
from mash_tools.testing import free_port, running
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, redeem, sign_in_link

pytestmark = pytest.mark.kafka
CLIENT_ID = "console-test"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def provider(issuer: str) -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, str]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
        }

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        keys = [
            {**jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True), "kid": "r"},
            {**jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True), "kid": "e"},
        ]
        return {"keys": keys}

    return app


def id_token(issuer: str, nonce: str, *, key: Any = RSA_KEY, alg: str = "RS256") -> str:
    now = int(time.time())
    claims = {"sub": "oidc-person", "iss": issuer, "aud": CLIENT_ID, "iat": now}
    claims |= {"exp": now + 300, "nonce": nonce, "mash_scopes": "marac:read"}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": "r" if key is RSA_KEY else "e"})


async def test_a_get_of_a_sign_in_link_signs_nobody_in(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    app = console.app.create_app(console_settings(kafka_bootstrap, sqlite_url, group))
    link = sign_in_link("coordinator", "marac:read")
    token = link.split("token=")[1]
    async with running(app) as client:
        page = await client.get(link)
        assert page.status_code == 200
        assert "mash_console_session" not in page.headers.get("set-cookie", "")
        assert "coordinator" in page.text
        assert (await client.get("/")).status_code == 303
        form_token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        # from another site: the form's values, but not the SameSite=Strict cookie
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://service"
        ) as elsewhere:
            forged = await elsewhere.post(
                "/sign-in/link", data={"token": token, "csrf_token": form_token}
            )
        assert forged.status_code == 403
        assert "set-cookie" not in forged.headers
        wrong = await client.post("/sign-in/link", data={"token": token, "csrf_token": "x" * 43})
        assert wrong.status_code == 403
        # neither used the link: its holder still signs in with it, once
        assert (await redeem(client, link)).status_code == 303
        assert (await client.get("/")).status_code == 200
        client.cookies.clear()
        assert (await redeem(client, link)).status_code == 403


async def test_oidc_starts_are_limited_and_expired_requests_purged(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    settings = console_settings(
        kafka_bootstrap,
        sqlite_url,
        group,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_starts_per_minute=3,
    )
    app = console.app.create_app(settings)
    async with served(provider(issuer), port), running(app) as client:
        answers = [(await client.get("/sign-in/oidc?next=/marac")).status_code for _ in range(5)]
        assert answers == [303, 303, 303, 429, 429]
        platform = app.state.platform
        table = store.oidc_requests
        async with platform.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(table)) == 3
        async with platform.uow() as session:
            past = datetime.now(UTC) - timedelta(seconds=1)
            await session.execute(update(table).values(expires_at=past))
        assert await Purge(60).run_once(platform) == 3
        async with platform.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(table)) == 0


async def test_the_id_token_is_checked_against_the_configured_issuer_and_algorithms(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, oidc_issuer=issuer, oidc_client_id=CLIENT_ID
    )
    app = console.app.create_app(settings)
    async with served(provider(issuer), port), running(app):
        oidc = app.state.oidc
        meta = await oidc.metadata()
        nonce = uuid.uuid4().hex
        claims = await oidc.verified(id_token(issuer, nonce), nonce, meta)
        assert claims["sub"] == "oidc-person"
        for refused in (
            id_token("http://127.0.0.1:1", nonce),  # another issuer
            id_token(issuer, nonce, key=EC_KEY, alg="ES256"),  # not a pinned algorithm
            id_token(issuer, "another-nonce"),
        ):
            with pytest.raises(OidcRefused):
                await oidc.verified(refused, nonce, meta)
        # a discovery document naming another issuer is not trusted at all
        other = Oidc(settings.model_copy(update={"oidc_issuer": issuer + "/"}))
        await other.start(app.state.platform)
        try:
            with pytest.raises(OidcRefused):
                await other.metadata()
        finally:
            await other.stop(app.state.platform)


async def test_hsts_only_over_https(kafka_bootstrap: str, sqlite_url: str, group: str) -> None:
    for public_url, expected in (("https://console.example", True), ("", False)):
        settings = console_settings(kafka_bootstrap, sqlite_url, group, public_url=public_url)
        async with running(console.app.create_app(settings)) as client:
            answer = await client.get("/sign-in")
        assert answer.status_code == 200
        assert ("strict-transport-security" in answer.headers) is expected
        if expected:
            assert "max-age=31536000" in answer.headers["strict-transport-security"]
