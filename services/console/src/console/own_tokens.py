"""The person's own access token, kept server-side with their session (never in a cookie,
a page or a log) for the calls the console may not make with a token of its own.

It is stored sealed (AES-GCM) with a key derived from the session's cookie, which the
console never stores (sessions are kept by the cookie's hash): a copy of the database, a
backup included, neither signs anyone in nor forwards anyone's token. The console reads
the token's `aud` and `exp` without verifying it: it only decides where and until when
to send it; the services verify it as any bearer token (contract section 2)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from datetime import UTC, datetime

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from console import store
from console.domain.people import OwnToken
from shared.db import utc

_LABEL = b"mash-console own access token\x00"


def parse(token: str | None, until: datetime) -> OwnToken | None:
    """The token with the services it names (`aud`) and its end (`exp`, but never after
    `until`, the session's end); None for no token or one without them (an opaque token
    names no service it could be sent to)."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    aud, exp = claims.get("aud"), claims.get("exp")
    audience = [aud] if isinstance(aud, str) else aud
    if not isinstance(audience, list) or not isinstance(exp, int) or isinstance(exp, bool):
        return None
    names = frozenset(a for a in audience if isinstance(a, str))
    ends = min(datetime.fromtimestamp(exp, UTC), until)
    return OwnToken(token, names, ends) if names else None


def _cipher(cookie: str) -> AESGCM:
    return AESGCM(hashlib.sha256(_LABEL + cookie.encode()).digest())


def seal(cookie: str, session_hash: str, token: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = _cipher(cookie).encrypt(nonce, token.encode(), session_hash.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(cookie: str, session_hash: str, sealed: str) -> str | None:
    try:
        raw = base64.b64decode(sealed, validate=True)
        opened = _cipher(cookie).decrypt(raw[:12], raw[12:], session_hash.encode())
    except (InvalidTag, ValueError, binascii.Error):
        return None
    return opened.decode()


async def save(session: AsyncSession, session_hash: str, cookie: str, own: OwnToken) -> None:
    await session.execute(
        store.own_tokens.insert().values(
            session_hash=session_hash,
            sealed=seal(cookie, session_hash, own.token),
            audience=" ".join(sorted(own.audience)),
            expires_at=own.expires_at,
        )
    )


async def find(
    session: AsyncSession, session_hash: str, cookie: str, now: datetime
) -> OwnToken | None:
    """The session's own token while it lasts."""
    table = store.own_tokens
    row = (
        await session.execute(select(table).where(table.c.session_hash == session_hash))
    ).one_or_none()
    if row is None:
        return None
    expires = utc(row.expires_at)
    token = unseal(cookie, session_hash, row.sealed)
    if token is None or expires <= now:
        return None
    return OwnToken(token, frozenset(row.audience.split()), expires)


async def forget(session: AsyncSession, session_hash: str, now: datetime) -> int:
    """Delete the session's token (at sign-out), and every one that has expired."""
    table = store.own_tokens
    done = await session.execute(
        delete(table).where((table.c.session_hash == session_hash) | (table.c.expires_at <= now))
    )
    return int(getattr(done, "rowcount", 0) or 0)


async def purge(session: AsyncSession, now: datetime) -> int:
    """Delete every token that has expired (the console's purge job)."""
    table = store.own_tokens
    done = await session.execute(delete(table).where(table.c.expires_at <= now))
    return int(getattr(done, "rowcount", 0) or 0)
