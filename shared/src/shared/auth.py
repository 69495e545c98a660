"""JWT bearer tokens with scopes (contract section 2).

No token or a bad one: 401. A valid token without the scope: 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ALGORITHM = "HS256"
_bearer = HTTPBearer(auto_error=False, description="A token from `mash token`")


@dataclass(frozen=True)
class Principal:
    """Who called, and what they may do."""

    subject: str
    scopes: frozenset[str]

    def may(self, *any_of: str) -> bool:
        return any(scope in self.scopes for scope in any_of)


def mint(
    secret: str,
    subject: str,
    scopes: Iterable[str],
    ttl: timedelta,
    issuer: str = "mash",
    now: datetime | None = None,
) -> str:
    """A signed token for `subject` holding `scopes`."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iss": issuer,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str, issuer: str = "mash") -> Principal:
    """The token's principal, or PermissionError when it is not valid."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise PermissionError(type(exc).__name__) from None
    scope = claims.get("scope", "")
    if not isinstance(scope, str) or not isinstance(claims["sub"], str):
        raise PermissionError("malformed claims")
    return Principal(subject=claims["sub"], scopes=frozenset(scope.split()))


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from a valid bearer token (401 otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("A bearer token is required.")
    settings = request.app.state.platform_settings
    try:
        return verify(settings.jwt_secret, credentials.credentials, settings.jwt_issuer)
    except PermissionError:
        raise _unauthorized("The bearer token is not valid.") from None


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only tokens holding `scope` (403 otherwise)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.may(scope):
            raise HTTPException(403, f"This token lacks the scope '{scope}'.")
        return principal

    return check


SIGN_IN_AUDIENCE = "mash-console-sign-in"
SIGN_IN_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class SignInGrant:
    """What a one-time console sign-in link grants: who, which scopes, and its id."""

    link_id: str
    principal: Principal
    expires_at: datetime


def mint_sign_in(
    secret: str,
    subject: str,
    scopes: Iterable[str],
    link_id: str,
    issuer: str = "mash",
    now: datetime | None = None,
) -> str:
    """The token of a one-time console sign-in link (contract section 11): 10 minutes."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iss": issuer,
        "aud": SIGN_IN_AUDIENCE,
        "jti": link_id,
        "iat": int(issued.timestamp()),
        "exp": int((issued + SIGN_IN_TTL).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_sign_in(secret: str, token: str, issuer: str = "mash") -> SignInGrant:
    """The grant of a sign-in link's token, or PermissionError (its single use is the
    console's to enforce)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=SIGN_IN_AUDIENCE,
            options={"require": ["exp", "sub", "iss", "aud", "jti"]},
        )
    except jwt.PyJWTError as exc:
        raise PermissionError(type(exc).__name__) from None
    scope, subject, link_id = claims.get("scope", ""), claims["sub"], claims["jti"]
    if not all(isinstance(v, str) for v in (scope, subject, link_id)):
        raise PermissionError("malformed claims")
    principal = Principal(subject=subject, scopes=frozenset(scope.split()))
    return SignInGrant(link_id, principal, datetime.fromtimestamp(claims["exp"], UTC))
