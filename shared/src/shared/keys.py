"""Signing keys and the public key sets that check them (contract section 2).

A token is signed with a private key that only its issuer holds (the force's identity
provider in production, the checkout's development key for `mash token`, the console's
own key for its two-minute upstream tokens); services hold public keys only, as a JWKS
file or URL. Keys are named by `kid` (the RFC 7638 thumbprint of the public key), so a
key set may hold several during a rotation and each token says which one it needs.
A key set file is read again whenever it changes: adding a key needs no restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})
"""The only signatures a service checks: asymmetric ones (never HS256 or `none`)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of a public JWK: the key's `kid`, the same wherever computed."""
    members = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
    required = members[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    """An issuer's private Ed25519 key and its `kid`."""

    private: Ed25519PrivateKey
    algorithm: str = "EdDSA"

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """The key in a PEM (PKCS #8) file, as `make setup` writes it."""
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(key)

    def pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_jwk(self) -> dict[str, Any]:
        """The public half, as a JWKS holds it."""
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        jwk: dict[str, Any] = {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}
        return {**jwk, "kid": thumbprint(jwk), "alg": self.algorithm, "use": "sig"}

    @property
    def kid(self) -> str:
        return str(self.public_jwk()["kid"])


def usable(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """The keys of a JWKS document a service may check signatures with, by `kid`: public
    asymmetric keys only (a symmetric `oct` key or a private member is left out)."""
    found: dict[str, jwt.PyJWK] = {}
    for jwk in jwks.get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kty") not in ("OKP", "EC", "RSA"):
            continue
        if "d" in jwk or not isinstance(jwk.get("kid"), str):
            continue
        try:
            key = jwt.PyJWK(jwk)
        except jwt.PyJWTError:
            continue
        if key.algorithm_name in ALGORITHMS:
            found[jwk["kid"]] = key
    return found


class KeySource(Protocol):
    def key(self, kid: str) -> jwt.PyJWK | None:
        """The public key named `kid`, or None."""


class KeySetFile:
    """A JWKS file, read again whenever it changes (a rotation adds a key while running)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        with self._lock:
            # a new file replaces the old whole (a new inode): seen even within one tick
            seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if self._seen != seen:
                try:
                    self._keys = usable(json.loads(self.path.read_text()))
                except (OSError, ValueError):
                    self._keys = {}
                self._seen = seen
            return self._keys.get(kid)


class KeySetURL:
    """An identity provider's JWKS URL: fetched when a `kid` is not known yet, at most
    once every `min_interval` seconds (an unknown kid cannot make it fetch per request)."""

    def __init__(self, url: str, min_interval: float = 30, timeout: float = 5) -> None:
        self.url = url
        self.min_interval = min_interval
        self.timeout = timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = -float("inf")
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched >= self.min_interval:
                self._fetched = time.monotonic()
                try:
                    with urllib.request.urlopen(self.url, timeout=self.timeout) as answer:  # noqa: S310 - a configured https URL
                        self._keys = usable(json.loads(answer.read()))
                except (OSError, ValueError):
                    pass  # keep what was known: a provider's hiccup is not an outage
            return self._keys.get(kid)


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, whole or not at all."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    partial.replace(path)


def jwks_of(*keys: SigningKey | dict[str, Any]) -> bytes:
    """A JWKS document of these keys' public halves."""
    public = [k.public_jwk() if isinstance(k, SigningKey) else k for k in keys]
    return json.dumps({"keys": public}, indent=2).encode()


@dataclass(frozen=True)
class KeyPair:
    """Where one issuer's private key and its public JWKS live."""

    private: Path
    jwks: Path

    def ensure(self) -> SigningKey:
        """The key, created with its JWKS when missing (`make setup`)."""
        if self.private.exists() and self.jwks.exists():
            return SigningKey.load(self.private)
        key = SigningKey.generate()
        write_private(self.jwks, jwks_of(key))
        write_private(self.private, key.pem())
        return key

    def rotate(self, keep: int = 2) -> SigningKey:
        """A new key: published first (alongside the `keep - 1` newest others, so tokens of
        the old kid stay valid during the overlap), then used for signing."""
        key = SigningKey.generate()
        old = json.loads(self.jwks.read_text()).get("keys", []) if self.jwks.exists() else []
        write_private(self.jwks, jwks_of(key, *old[: max(keep - 1, 0)]))
        write_private(self.private, key.pem())
        return key
