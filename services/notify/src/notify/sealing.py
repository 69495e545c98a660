"""Webhook secrets are kept sealed: a copy of the notify database alone cannot sign
webhooks as the hub. Fernet (AES-128-CBC with HMAC-SHA256), under a key derived from
configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["InvalidToken", "SecretBox"]


class SecretBox:
    """Seals and unseals subscription secrets."""

    def __init__(self, key_material: str) -> None:
        # a key of its own, derived from the configured material (domain separation)
        derived = hmac.new(key_material.encode(), b"mash:notify:webhook-secrets", hashlib.sha256)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived.digest()))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        """The secret; InvalidToken when the key material changed since it was sealed."""
        return self._fernet.decrypt(sealed.encode()).decode()
