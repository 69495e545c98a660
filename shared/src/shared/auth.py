"""JWT bearer tokens with scopes and an audience (contract section 2).

No token or a bad one: 401. A valid token without the scope: 403. A token is good only
if it is signed with an asymmetric key of an issuer the service trusts (named by its
`kid`), carries that issuer's `iss`, names this service in `aud`, and lives no longer
than the issuer may grant (`exp - iat`). Two issuers are trusted: people's (the identity
provider; `mash token` in development) for 24 hours at most, and the console for two
minutes, and then only for the scopes a console may pass on (never `CONSOLE_NEVER`'s,
which the console uses only by forwarding the person's own token).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.config import HubSettings
from shared.keys import ALGORITHMS, KeySetFile, KeySetURL, KeySource, SigningKey

_bearer = HTTPBearer(auto_error=False, description="A token from `mash token`")

SCOPE_OWNERS = {
    "incidents": "intake",
    "triage": "triage",
    "referrals": "notify",
    "subscriptions": "notify",
    "marac": "marac",
    "perpetrators": "perpetrators",
    "dashboard": "console",
    "records": "records",
    "reviews": "records",
}
"""Each scope belongs to one service, named by the scope's first part."""

SERVICES = tuple(dict.fromkeys(SCOPE_OWNERS.values()))

CONSOLE_NEVER = ("subscriptions:write:", "records:read", "triage:policy")
"""What the console may never pass on to a service, whoever is signed in to it: changing
where an agency's referrals go, reading who processed a person's data (the records of
processing, contract section 12), the triage policy. A page needing one of these forwards
the person's own access token from the identity provider instead (`console.upstream`): a
stolen console key then opens none of them."""

CONSOLE_TTL = timedelta(minutes=2)
"""The longest life of a console's upstream token."""


def owner(scope: str) -> str | None:
    """The service a scope belongs to (None for a scope of no service)."""
    return SCOPE_OWNERS.get(scope.split(":", 1)[0])


def audience_of(scopes: Iterable[str]) -> list[str]:
    """The services a token holding `scopes` is for: the owners of its scopes."""
    return list(dict.fromkeys(o for s in scopes if (o := owner(s))))


def console_may_delegate(scope: str) -> bool:
    """Whether a console-issued token may carry `scope`: a scope of a service, not one of
    `CONSOLE_NEVER` (a prefix ending in ":" names every agency's)."""
    if owner(scope) is None:
        return False
    return not any(
        scope.startswith(never) if never.endswith(":") else scope == never
        for never in CONSOLE_NEVER
    )


@dataclass(frozen=True)
class Principal:
    """Who called, and what they may do."""

    subject: str
    scopes: frozenset[str]

    def may(self, *any_of: str) -> bool:
        return any(scope in self.scopes for scope in any_of)


def mint(
    key: SigningKey,
    subject: str,
    scopes: Iterable[str],
    ttl: timedelta,
    issuer: str = "mash",
    now: datetime | None = None,
    audience: Iterable[str] | None = None,
) -> str:
    """A token for `subject` holding `scopes`, signed with the issuer's `key`, for the
    services of `audience` (default: the services its scopes belong to)."""
    scopes = list(scopes)
    issued = now or datetime.now(UTC)
    claims = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iss": issuer,
        "aud": list(audience) if audience is not None else audience_of(scopes),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


@dataclass(frozen=True)
class Issuer:
    """An issuer a service trusts: its public keys, the longest life it may give a token,
    and which scopes it may grant."""

    name: str
    keys: KeySource
    max_lifetime: timedelta
    may_grant: Callable[[str], bool] = lambda scope: True
    remote: bool = False


@dataclass(frozen=True)
class Trust:
    """The issuers a service accepts tokens from, by `iss`."""

    issuers: dict[str, Issuer]

    @property
    def remote(self) -> bool:
        return any(i.remote for i in self.issuers.values())


@lru_cache(maxsize=64)
def _file(path: Path) -> KeySetFile:
    return KeySetFile(path)


@lru_cache(maxsize=16)
def _url(url: str) -> KeySetURL:
    return KeySetURL(url)


def trust(settings: HubSettings) -> Trust:
    """The issuers of these settings: people's (JWKS URL or file) and the console's."""
    lifetime = timedelta(seconds=settings.token_max_seconds)
    if settings.jwks_url:
        people = Issuer(settings.jwt_issuer, _url(settings.jwks_url), lifetime, remote=True)
    else:
        assert settings.jwks_file is not None, "the settings' validator sets a JWKS"
        people = Issuer(settings.jwt_issuer, _file(settings.jwks_file), lifetime)
    issuers = {people.name: people}
    if settings.console_jwks_file is not None and settings.console_issuer != people.name:
        issuers[settings.console_issuer] = Issuer(
            settings.console_issuer,
            _file(settings.console_jwks_file),
            min(lifetime, CONSOLE_TTL),
            console_may_delegate,
        )
    return Trust(issuers)


def _claims(
    trust: Trust, token: str, audience: str
) -> tuple[Issuer, dict[str, Any], tuple[str, Any]]:
    """The verified claims of a token for `audience` and the key that verified them (its
    kid and the key), or PermissionError."""
    try:
        # one unverified parse for the header and the issuer (was two)
        unverified = jwt.decode_complete(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise PermissionError(type(exc).__name__) from None
    header, payload = unverified["header"], unverified["payload"]
    algorithm, kid = header.get("alg"), header.get("kid")
    iss = payload.get("iss") if isinstance(payload, dict) else None
    if algorithm not in ALGORITHMS or not isinstance(kid, str) or not isinstance(iss, str):
        raise PermissionError("not a token of an asymmetric key named by its kid")
    issuer = trust.issuers.get(iss)
    key = issuer.keys.key(kid) if issuer else None
    if issuer is None or key is None or key.algorithm_name != algorithm:
        raise PermissionError("unknown issuer or key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=iss,
            audience=audience,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise PermissionError(type(exc).__name__) from None
    life = claims["exp"] - claims["iat"]
    if not isinstance(life, int) or life > issuer.max_lifetime.total_seconds():
        raise PermissionError("the token lives longer than its issuer may grant")
    return issuer, claims, (kid, key)


LEEWAY = 30
"""Seconds of clock skew allowed on `exp`, `iat` and `nbf`."""


@dataclass(frozen=True)
class _Verified:
    """A token already verified for an audience: by which issuer, with which key object,
    until when, and the principal it gave."""

    issuer: Issuer
    kid: str
    key: Any
    exp: float
    principal: Principal


_VERIFIED_MAX = 2048
_verified: dict[tuple[str, str], _Verified] = {}
_verified_lock = threading.Lock()


def _still_good(trust: Trust, seen: _Verified) -> bool:
    """Whether a verification remembered still holds: the same issuer (its keys, its
    lifetime, what it may grant) trusted, the same key object still named by its kid (a
    key set re-read after a rotation gives new objects: verified again, refused if the key
    is gone), and `exp` not passed (as PyJWT checks it: `iat`, `nbf` only get truer)."""
    return (
        trust.issuers.get(seen.issuer.name) == seen.issuer
        and seen.issuer.keys.key(seen.kid) is seen.key
        and time.time() < seen.exp + LEEWAY
    )


def verify(trust: Trust, token: str, audience: str) -> Principal:
    """The principal of a token presented to the service `audience`, or PermissionError.

    A token that verified is remembered (at most `_VERIFIED_MAX`, the oldest forgotten
    first) with the key that verified it, so a caller's next requests cost a dict look-up
    and `_still_good`'s checks, not the signature and three decodes again; a token that
    failed is never remembered."""
    seen = _verified.get((token, audience))
    if seen is not None and _still_good(trust, seen):
        return seen.principal
    issuer, claims, (kid, key) = _claims(trust, token, audience)
    scope = claims.get("scope", "")
    if not isinstance(scope, str) or not isinstance(claims["sub"], str):
        raise PermissionError("malformed claims")
    scopes = frozenset(scope.split())
    if not all(issuer.may_grant(s) for s in scopes):
        raise PermissionError("a scope its issuer may not grant")
    principal = Principal(subject=claims["sub"], scopes=scopes)
    with _verified_lock:  # `verify` also runs in worker threads (a remote key set)
        while len(_verified) >= _VERIFIED_MAX:
            del _verified[next(iter(_verified))]
        _verified[(token, audience)] = _Verified(issuer, kid, key, claims["exp"], principal)
    return principal


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from a valid bearer token (401 otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("A bearer token is required.")
    issuers = trust(request.app.state.hub_settings)
    audience = request.app.state.platform.name
    try:
        if issuers.remote:  # a key set fetched from a URL: never block the event loop
            return await asyncio.to_thread(verify, issuers, credentials.credentials, audience)
        return verify(issuers, credentials.credentials, audience)
    except PermissionError:
        raise _unauthorized("The bearer token is not valid.") from None


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
"""The bearer credentials as presented (None without them): for a dependency that checks
the token itself (`scoped`), one level of FastAPI's dependency solving fewer a request."""


def admit(principal: Principal, scope: str) -> Principal:
    """`principal` if it holds `scope`, else 403."""
    if not principal.may(scope):
        raise HTTPException(403, f"This token lacks the scope '{scope}'.")
    return principal


async def scoped(request: Request, credentials: Credentials, scope: str) -> Principal:
    """What `require(scope)` gives, called directly: 401 without a valid token, 403
    without the scope."""
    return admit(await current_principal(request, credentials), scope)


def require(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only tokens holding `scope` (403 otherwise)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        return admit(principal, scope)

    return check


def withheld(scopes: Iterable[str]) -> list[str]:
    """The scopes of services among `scopes` that no console may pass on: a person who
    holds them uses them only with their own access token."""
    return [s for s in scopes if owner(s) is not None and not console_may_delegate(s)]


SIGN_IN_AUDIENCE = "mash-console-sign-in"
SIGN_IN_TTL = timedelta(minutes=10)
OWN_TOKEN_MAX = timedelta(hours=8)
"""The longest life of the access token a sign-in link carries (a console session's)."""
OWN_TOKEN_CLAIM = "access_token"  # noqa: S105 - a claim's name, not a secret
"""The sign-in link's claim carrying the person's own access token, if any."""


@dataclass(frozen=True)
class SignInGrant:
    """What a one-time console sign-in link grants: who, which scopes, its id, and the
    person's own access token for the scopes the console may not pass on (or None)."""

    link_id: str
    principal: Principal
    expires_at: datetime
    access_token: str | None = field(default=None, repr=False)


def mint_sign_in(
    key: SigningKey,
    subject: str,
    scopes: Iterable[str],
    link_id: str,
    issuer: str = "mash",
    now: datetime | None = None,
    session: timedelta = OWN_TOKEN_MAX,
) -> str:
    """The token of a one-time console sign-in link (contract section 11): 10 minutes.

    When the scopes include some a console may not pass on (`CONSOLE_NEVER`), the link
    also carries the person's own access token for those alone, as an identity provider
    would issue it at sign-in: signed by the same issuer, for their services, living as
    long as the console's session (`session`, at most `OWN_TOKEN_MAX`) from now."""
    scopes = list(scopes)
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iss": issuer,
        "aud": SIGN_IN_AUDIENCE,
        "jti": link_id,
        "iat": int(issued.timestamp()),
        "exp": int((issued + SIGN_IN_TTL).timestamp()),
    }
    if own := withheld(scopes):
        ttl = min(session, OWN_TOKEN_MAX)
        claims[OWN_TOKEN_CLAIM] = mint(key, subject, own, ttl, issuer, issued)
    return jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


def verify_sign_in(settings: HubSettings, token: str) -> SignInGrant:
    """The grant of a sign-in link's token, signed by people's issuer (never the console's),
    or PermissionError (its single use is the console's to enforce)."""
    people = trust(settings).issuers[settings.jwt_issuer]
    people = Issuer(people.name, people.keys, SIGN_IN_TTL, remote=people.remote)
    _, claims, _ = _claims(Trust({people.name: people}), token, SIGN_IN_AUDIENCE)
    scope, subject, link_id = claims.get("scope", ""), claims["sub"], claims.get("jti")
    if not (isinstance(scope, str) and isinstance(subject, str) and isinstance(link_id, str)):
        raise PermissionError("malformed claims")
    own = claims.get(OWN_TOKEN_CLAIM)
    if own is not None and not isinstance(own, str):
        raise PermissionError("malformed claims")
    principal = Principal(subject=subject, scopes=frozenset(scope.split()))
    expires = datetime.fromtimestamp(claims["exp"], UTC)
    return SignInGrant(link_id, principal, expires, own)
