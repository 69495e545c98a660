"""The development issuers' key pairs (contract section 2), created by `make setup`.

    python -m mash_tools.keys ensure            both pairs, when missing (make setup)
    python -m mash_tools.keys rotate [--console] a new key; the old one stays published

Two issuers sign tokens under `make run`: the development stand-in for the identity
provider (`mash token`, `mash console-link`: `.data/keys/dev.ed25519`, public half in
`.data/keys/jwks.json`) and the console (`console.ed25519`, `console.jwks.json`). Private
keys are owner-only files; services are given the JWKS paths only.

A rotation publishes the new key beside the old one before signing with it, so tokens
of both kids are accepted while the old ones live (24 hours at most); the next rotation
drops the oldest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.config import KEYS_DIR, HubSettings
from shared.keys import KeyPair, SigningKey


def people(directory: Path) -> KeyPair:
    """The development issuer's pair in `directory`."""
    return KeyPair(directory / "dev.ed25519", directory / "jwks.json")


def console(directory: Path) -> KeyPair:
    """The console's pair in `directory`."""
    return KeyPair(directory / "console.ed25519", directory / "console.jwks.json")


def ensure(directory: Path) -> None:
    """Both pairs, created when missing; the directory owner-only."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    people(directory).ensure()
    console(directory).ensure()


def signing_key(settings: HubSettings) -> SigningKey:
    """The development issuer's key that `mash token` and `mash console-link` sign with."""
    assert settings.signing_key_file is not None, "set outside production by the settings"
    try:
        return SigningKey.load(settings.signing_key_file)
    except (OSError, ValueError):
        raise SystemExit(
            f"mash: no signing key at {settings.signing_key_file}; run `make setup` first"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mash_tools.keys", description=__doc__)
    parser.add_argument("action", choices=["ensure", "rotate"])
    parser.add_argument("--console", action="store_true", help="rotate the console's key")
    parser.add_argument("--dir", type=Path, help="default: MASH_DATA_DIR/keys")
    args = parser.parse_args(argv)
    directory = args.dir or HubSettings().data_dir / KEYS_DIR
    if args.action == "ensure":
        ensure(directory)
        return 0
    pair = console(directory) if args.console else people(directory)
    ensure(directory)
    key = pair.rotate()
    print(f"signing with kid {key.kid}; the previous key stays published", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
