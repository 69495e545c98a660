"""Webhook secrets at rest: sealed, and only the configured key opens them."""

from __future__ import annotations

import pytest

from mash_tools.testing import hub_settings
from notify.config import Settings
from notify.sealing import InvalidToken, SecretBox


def test_a_sealed_secret_opens_with_the_same_key_only() -> None:
    box = SecretBox("key material one")
    sealed = box.seal("idva-webhook-secret")
    assert "idva-webhook-secret" not in sealed
    assert box.unseal(sealed) == "idva-webhook-secret"
    assert SecretBox("key material one").unseal(sealed) == "idva-webhook-secret"
    with pytest.raises(InvalidToken):
        SecretBox("key material two").unseal(sealed)


def test_sealing_the_same_secret_twice_gives_different_text() -> None:
    box = SecretBox("k")
    assert box.seal("s") != box.seal("s")


def test_the_key_is_its_own_unless_configured_from_the_pseudonym_key() -> None:
    default = Settings(hub=hub_settings("127.0.0.1:1"))
    sealed = default.secret_box().seal("x")
    # derived, not the pseudonym key itself: a box keyed by another label cannot open it
    assert SecretBox(default.hub.pseudonym_key).unseal(sealed) == "x"
    own = Settings(hub=hub_settings("127.0.0.1:1"), webhook_secrets_key="own key")
    with pytest.raises(InvalidToken):
        own.secret_box().unseal(sealed)
