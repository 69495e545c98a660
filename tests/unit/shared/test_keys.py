"""Key sets (shared.keys): only public asymmetric keys are ever used to check a token."""

from __future__ import annotations

import json
from pathlib import Path

from shared.keys import KeyPair, KeySetFile, SigningKey, jwks_of, thumbprint, usable


def test_the_kid_is_the_rfc_7638_thumbprint_of_the_public_key() -> None:
    # RFC 8037 appendix A.3: the Ed25519 example key's thumbprint
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_symmetric_and_private_keys_in_a_jwks_are_left_out() -> None:
    key = SigningKey.generate()
    public = key.public_jwk()
    oct_key = {"kty": "oct", "kid": "s", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}
    private = {**SigningKey.generate().public_jwk(), "d": "AAAA", "kid": "p"}
    found = usable({"keys": [public, oct_key, private, "junk", {"kty": "RSA"}]})
    assert list(found) == [key.kid]


def test_a_key_set_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    pair = KeyPair(tmp_path / "k.ed25519", tmp_path / "jwks.json")
    first = pair.ensure()
    keys = KeySetFile(pair.jwks)
    assert keys.key(first.kid) is not None
    second = pair.rotate()
    assert keys.key(second.kid) is not None
    assert keys.key(first.kid) is not None
    third = pair.rotate()
    assert keys.key(third.kid) is not None
    assert keys.key(first.kid) is None
    assert SigningKey.load(pair.private).kid == third.kid
    assert (pair.private.stat().st_mode & 0o777) == 0o600
    pair.jwks.write_text("not json")
    assert keys.key(third.kid) is None
    pair.jwks.write_bytes(jwks_of(third))
    assert json.loads(pair.jwks.read_text())["keys"][0]["kid"] == third.kid
    assert keys.key(third.kid) is not None
