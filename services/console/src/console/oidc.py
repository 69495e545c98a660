"""OpenID Connect sign-in (contract section 11): authorization code with PKCE against
`CONSOLE_OIDC_ISSUER`, with Authlib; the hub's scopes come from a configured claim of
the ID token (or, failing that, of the userinfo answer)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from authlib.integrations.httpx_client import AsyncOAuth2Client

from console.config import Settings
from shared.service import Platform


class OidcRefused(Exception):
    """The provider refused, or its answer could not be trusted."""


@dataclass(frozen=True)
class Identity:
    """Who signed in, with which of the hub's scopes, and the access token the provider
    issued them (forwarded for what a console may not pass on; never logged)."""

    subject: str
    scopes: frozenset[str]
    access_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class OidcRequest:
    """One pending authorisation: kept by the console until the provider answers."""

    state: str
    code_verifier: str
    nonce: str
    url: str


class Oidc:
    """The console as an OpenID Connect relying party."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._http: httpx.AsyncClient | None = None
        self._metadata: dict[str, Any] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self._settings.oidc_issuer and self._settings.oidc_client_id)

    @property
    def redirect_uri(self) -> str:
        return f"{self._settings.base_url}/sign-in/oidc/callback"

    async def start(self, _: Platform[Settings]) -> None:
        self._http = httpx.AsyncClient(timeout=self._settings.upstream_timeout_seconds)

    async def stop(self, _: Platform[Settings]) -> None:
        if self._http:
            await self._http.aclose()

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._settings.oidc_client_id,
            client_secret=self._settings.oidc_client_secret,
            redirect_uri=self.redirect_uri,
            scope="openid",
            code_challenge_method="S256",
            timeout=self._settings.upstream_timeout_seconds,
        )

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once)."""
        if self._metadata is None:
            assert self._http is not None, "oidc client not started"
            issuer = self._settings.oidc_issuer.rstrip("/")
            try:
                answer = await self._http.get(f"{issuer}/.well-known/openid-configuration")
                answer.raise_for_status()
                found = answer.json()
            except (httpx.HTTPError, ValueError):
                raise OidcRefused("provider not reachable") from None
            # OpenID Connect Discovery 4.3: the document is the configured issuer's own
            if not isinstance(found, dict) or found.get("issuer") != self._settings.oidc_issuer:
                raise OidcRefused("discovery document of another issuer")
            self._metadata = found
        return self._metadata

    async def authorization(self) -> OidcRequest:
        """Where to send the person, with fresh state, nonce and PKCE verifier."""
        meta = await self.metadata()
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(24)
        async with self._client() as client:
            url, state = client.create_authorization_url(
                meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
        return OidcRequest(state, verifier, nonce, url)

    async def complete(self, code: str, code_verifier: str, nonce: str) -> Identity:
        """Exchange the code; the person's subject and hub scopes from a verified ID token,
        and the access token of the token endpoint's answer."""
        meta = await self.metadata()
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=code_verifier
                )
        except Exception:  # noqa: BLE001 - any failure of the exchange refuses the sign-in
            raise OidcRefused("code exchange failed") from None
        claims = await self.verified(str(token.get("id_token", "")), nonce, meta)
        access = token.get("access_token")
        access_token = access if isinstance(access, str) and access else None
        claim = self._settings.oidc_scope_claim
        if claim not in claims and meta.get("userinfo_endpoint") and access_token:
            claims = {**await self._userinfo(meta, access_token), **claims}
        return Identity(str(claims["sub"]), _scopes(claims.get(claim)), access_token)

    async def verified(self, id_token: str, nonce: str, meta: dict[str, Any]) -> dict[str, Any]:
        assert self._http is not None
        try:
            keys = jwt.PyJWKSet.from_dict((await self._http.get(meta["jwks_uri"])).json())
            kid = jwt.get_unverified_header(id_token).get("kid")
            key = next(k for k in keys.keys if kid is None or k.key_id == kid)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                # pinned here: never what the provider (or a forged document) offers
                algorithms=self._settings.oidc_algorithms,
                audience=self._settings.oidc_client_id,
                issuer=self._settings.oidc_issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except (httpx.HTTPError, jwt.PyJWTError, StopIteration, KeyError, ValueError):
            raise OidcRefused("ID token not valid") from None
        if claims.get("nonce") != nonce:
            raise OidcRefused("nonce mismatch")
        return claims

    async def _userinfo(self, meta: dict[str, Any], access_token: str) -> dict[str, Any]:
        assert self._http is not None
        try:
            answer = await self._http.get(
                meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}
            )
            answer.raise_for_status()
            found: dict[str, Any] = answer.json()
        except (httpx.HTTPError, ValueError):
            return {}
        return found


def _scopes(value: Any) -> frozenset[str]:
    """The hub's scopes from the claim: a space-separated string or a list of strings."""
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()
