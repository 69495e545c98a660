"""`mash`: the hub's command line.

mash token --sub NAME --scope "SCOPE ..." [--ttl 24h] [--aud "SERVICE ..."]
                                                        print one bearer token
mash console-link --sub NAME --scope "SCOPE ..."         print one console sign-in link
mash run [--no-broker]                                  the whole stack, in the foreground
mash cluster                                            3 Kafka nodes, PostgreSQL, 2 replicas each
mash chaos [--incidents N] [--kills N]                  a fault campaign against the cluster
mash demo                                               a synthetic day of traffic
mash backup DIR                                         copy every SQLite store, while running
mash kafka-credentials PRINCIPAL [--format json|properties]
                                                        one Kafka principal's client settings
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
from datetime import timedelta
from pathlib import Path

from shared.auth import OWN_TOKEN_MAX, audience_of, mint, mint_sign_in
from shared.config import HubSettings


def parse_ttl(text: str) -> timedelta:
    """'90s', '15m', '24h', '7d' or a number of seconds."""
    match = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError("use a number with s, m, h or d, e.g. 24h")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=int(match.group(1)) * unit)


def token(args: argparse.Namespace) -> int:
    """Contract section 2: signed with the development key, for the services of its scopes
    unless `--aud` names others; at most 24 hours, as services accept no longer."""
    from mash_tools.keys import signing_key

    settings = HubSettings()
    scopes = args.scope.split()
    audience = args.aud.split() if args.aud is not None else audience_of(scopes)
    if not timedelta(0) < args.ttl <= timedelta(seconds=settings.token_max_seconds):
        print("mash: --ttl must be more than 0 and at most 24h", file=sys.stderr)
        return 2
    if not audience:
        print("mash: no service owns these scopes; name one with --aud", file=sys.stderr)
        return 2
    key = signing_key(settings)
    print(mint(key, args.sub, scopes, args.ttl, settings.jwt_issuer, audience=audience))
    return 0


def kafka_credentials(args: argparse.Namespace) -> int:
    """Contract section 8: one principal's client settings, nothing else on stdout."""
    from shared import kafka_security

    if args.principal not in kafka_security.PRINCIPALS:
        known = ", ".join(kafka_security.PRINCIPALS)
        print(f"mash: unknown Kafka principal {args.principal!r}; known: {known}", file=sys.stderr)
        return 2
    # the credentials are the principal's, whatever identity this shell's own clients use
    platform = HubSettings(kafka_username="", kafka_password="", kafka_security_protocol="SASL_SSL")
    try:
        creds = kafka_security.credentials(args.principal, platform)
    except (KeyError, OSError, ValueError):
        print(
            f"mash: no Kafka credentials under {kafka_security.security_dir(platform)}; "
            "run `make setup` first",
            file=sys.stderr,
        )
        return 1
    if args.format == "json":
        print(json.dumps(creds.as_json(), indent=2))
    else:
        sys.stdout.write(creds.as_properties())
    return 0


def console_link(args: argparse.Namespace) -> int:
    """A one-time sign-in link to the console of this checkout (10 minutes)."""
    from mash_tools.keys import signing_key

    settings = HubSettings()
    # the link carries the person's own token for the scopes a console may not pass on,
    # living as long as a console session (CONSOLE_SESSION_MINUTES, at most 8 hours)
    minutes = os.environ.get("CONSOLE_SESSION_MINUTES", "")
    session = timedelta(minutes=int(minutes)) if minutes.isdigit() else OWN_TOKEN_MAX
    token = mint_sign_in(
        signing_key(settings),
        args.sub,
        args.scope.split(),
        secrets.token_urlsafe(16),
        settings.jwt_issuer,
        session=session,
    )
    port = os.environ.get("CONSOLE_PORT", "8005")
    base = os.environ.get("CONSOLE_PUBLIC_URL") or f"http://127.0.0.1:{port}"
    print(f"{base.rstrip('/')}/sign-in/link?token={token}")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mash", description="The Multi-Agency Safeguarding Hub")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("token", help="print a bearer token for the local stack")
    p.add_argument("--sub", required=True, help="who the token is for")
    p.add_argument("--scope", required=True, help='space-separated scopes, e.g. "incidents:write"')
    p.add_argument("--ttl", type=parse_ttl, default=timedelta(hours=24), help="lifetime (24h)")
    p.add_argument(
        "--aud", help="space-separated services it is for (default: the owners of its scopes)"
    )
    p.set_defaults(run=token)

    p = commands.add_parser("console-link", help="print a one-time sign-in link to the console")
    p.add_argument("--sub", required=True, help="who signs in")
    p.add_argument("--scope", required=True, help='space-separated scopes, e.g. "marac:read"')
    p.set_defaults(run=console_link)

    p = commands.add_parser("run", help="start Kafka, Zipkin and every service in the foreground")
    p.add_argument(
        "--no-broker", action="store_true", help="use the broker at MASH_KAFKA_BOOTSTRAP"
    )
    p.set_defaults(run=lambda a: _lazy("mash_tools.stack", "run")(a))

    p = commands.add_parser(
        "cluster", help="three Kafka nodes, PostgreSQL and two replicas of every service"
    )
    p.set_defaults(run=lambda a: _lazy("mash_tools.cluster", "run")(a))

    p = commands.add_parser("chaos", help="a fault campaign against `mash cluster`, checked")
    p.add_argument("--seed", type=int, default=2026, help="random seed (people and faults)")
    p.add_argument("--incidents", type=int, default=200, help="how many incidents")
    p.add_argument("--kills", type=int, default=12, help="how many replicas to SIGKILL")
    p.add_argument("--pause", type=float, default=0.2, help="seconds between incidents")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the hub")
    p.set_defaults(run=lambda a: _lazy("mash_tools.chaos", "run")(a))

    p = commands.add_parser("demo", help="post a synthetic day of control-room traffic")
    p.add_argument("--seed", type=int, default=2026, help="random seed for the synthetic people")
    p.add_argument("--incidents", type=int, default=36, help="how many incidents")
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait for the pipeline")
    p.set_defaults(run=lambda a: _lazy("mash_tools.demo", "run")(a))

    p = commands.add_parser(
        "backup", help="copy every service's SQLite store into DIR while the hub runs"
    )
    p.add_argument("directory", type=Path, help="where the copies and manifest.json go")
    p.set_defaults(run=lambda a: _lazy("mash_tools.backup", "run")(a))

    p = commands.add_parser(
        "kafka-credentials", help="print one Kafka principal's client settings (contract 8)"
    )
    p.add_argument("principal", help="e.g. idva, ops, notify")
    p.add_argument("--format", choices=["properties", "json"], default="properties")
    p.set_defaults(run=kafka_credentials)

    args = parser.parse_args(argv)
    sys.exit(args.run(args))


def _lazy(module: str, name: str):  # type: ignore[no-untyped-def]
    import importlib

    return getattr(importlib.import_module(module), name)
