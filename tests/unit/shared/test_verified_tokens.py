"""A token verified once is remembered (`shared.auth.verify`), and what is remembered never
admits what a fresh verification would refuse: a key rotated out, an expired token, another
audience, an issuer trusted on other terms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mash_tools.testing import eventually
from shared import auth
from shared.auth import Issuer, Trust, mint, verify
from shared.keys import KeySetFile, SigningKey


def _trust(keys: KeySetFile, lifetime: timedelta = timedelta(hours=24)) -> Trust:
    # a service's trust is built per request, around the same key set (`auth._file`)
    return Trust({"mash": Issuer("mash", keys, lifetime)})


def _write(path: Path, *keys: SigningKey) -> None:
    # a new file replaces the old whole, as a rotation does (a new inode)
    fresh = path.with_suffix(".new")
    fresh.write_text(json.dumps({"keys": [k.public_jwk() for k in keys]}))
    fresh.replace(path)


@pytest.fixture
def key_set(tmp_path: Path) -> tuple[SigningKey, KeySetFile]:
    key = SigningKey.generate()
    path = tmp_path / "jwks.json"
    _write(path, key)
    return key, KeySetFile(path)


def test_a_verified_token_is_not_verified_again(
    key_set: tuple[SigningKey, KeySetFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, keys = key_set
    trust = _trust(keys)
    token = mint(key, "tester", ["incidents:write"], timedelta(hours=1))
    first = verify(trust, token, "intake")

    def refuse(*_: object) -> None:
        raise AssertionError("verified again")

    monkeypatch.setattr("shared.auth._claims", refuse)
    assert verify(trust, token, "intake") == first
    assert first.scopes == frozenset({"incidents:write"})


def test_a_key_rotated_out_refuses_what_it_had_verified(
    key_set: tuple[SigningKey, KeySetFile],
) -> None:
    key, keys = key_set
    trust = _trust(keys)
    token = mint(key, "tester", ["incidents:write"], timedelta(hours=1))
    verify(trust, token, "intake")
    _write(keys.path, SigningKey.generate())
    with pytest.raises(PermissionError):
        verify(trust, token, "intake")


async def test_a_remembered_token_still_expires(
    key_set: tuple[SigningKey, KeySetFile],
) -> None:
    key, keys = key_set
    trust = _trust(keys)
    ttl = timedelta(minutes=5)
    # expired a moment ago, within the leeway: good now, refused within seconds
    issued = datetime.now(UTC) - ttl - timedelta(seconds=auth.LEEWAY - 5)
    token = mint(key, "tester", ["incidents:write"], ttl, now=issued)
    assert verify(trust, token, "intake").subject == "tester"

    def refused() -> bool:
        try:
            verify(trust, token, "intake")
        except PermissionError:
            return True
        return False

    assert await eventually(refused, timeout=30)


def test_another_audience_or_stricter_terms_verify_afresh(
    key_set: tuple[SigningKey, KeySetFile],
) -> None:
    key, keys = key_set
    token = mint(key, "tester", ["incidents:write"], timedelta(hours=1))
    assert verify(_trust(keys), token, "intake").subject == "tester"
    with pytest.raises(PermissionError):
        verify(_trust(keys), token, "triage")  # not in its audience
    with pytest.raises(PermissionError):
        verify(_trust(keys, lifetime=timedelta(minutes=2)), token, "intake")  # lives too long


def test_a_refused_token_is_not_remembered(
    key_set: tuple[SigningKey, KeySetFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, keys = key_set
    token = mint(key, "tester", ["incidents:write"], timedelta(hours=1))
    trust = _trust(keys)
    calls = []
    fresh = auth.verify.__globals__["_claims"]

    def counted(*args: object) -> object:
        calls.append(args)
        return fresh(*args)

    monkeypatch.setattr("shared.auth._claims", counted)
    for _ in range(2):
        with pytest.raises(PermissionError):
            verify(trust, token, "triage")  # signed right, but for intake alone
    assert len(calls) == 2
