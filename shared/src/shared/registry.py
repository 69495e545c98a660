"""The hub's services, declared once: name, port, settings prefix, topics in and out,
Kafka principal, and the few facts the tools and manifests need.

`mash run`, `mash cluster`, `mash chaos`, the demo, the bench, the Kubernetes generator,
the Prometheus configuration and the end-to-end tests all read this table instead of a
list of their own, so a new service is one entry here (and its package under
`services/`). Pure data: no I/O, no settings read at import; it may import only
`shared.topics`, the contract's topic names.

The Kafka ACL table (`shared.kafka_security.ACL_TABLE`) is the authority on what each
principal may do; `tests/unit/deploy/test_registry.py` checks that each entry's topics
agree with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.topics import (
    AGENCIES,
    AUDIT_PREFIX,
    DECISIONS,
    ESCALATIONS,
    INCIDENTS,
    INTAKE_EQUALITY,
    MARAC,
    MARAC_IDVA_REFERRALS,
    PERPETRATORS,
    REFERRAL_OUTCOMES,
    SUMMARIES,
    audit_topic,
    referrals_topic,
)


@dataclass(frozen=True)
class Service:
    """One service of the hub, as every tool and manifest sees it."""

    name: str
    port: int
    """Its default port on loopback (contract section 1); `<PREFIX>PORT` overrides it."""
    consumes: tuple[str, ...] = ()
    """The topics it consumes with its consumer groups (the lag it is scaled on)."""
    produces: tuple[str, ...] = ()
    """The topics it publishes, besides the dead-letter topic and its own log topic."""
    observes: tuple[str, ...] = ()
    """Topics it reads without consuming them (records: to log what partners consume)."""
    calls: tuple[str, ...] = ()
    """The services whose APIs it calls (the console's pages read them)."""
    public_https: str = ""
    """Why it must reach HTTPS on the internet ("" when it never leaves the cluster)."""
    settings_secret: str = ""
    """A Kubernetes Secret holding settings of its own (the console's OpenID Connect)."""
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Consumer groups besides its main one, as (suffix, topics): the group
    `<consumer_group>-<suffix>` consumes those of `consumes` (records: `disclosures`, the
    referral topics, whose offsets stay apart from the log topics')."""
    database_role: str = ""
    """The PostgreSQL group role its login belongs to when its migrations grant the service
    less than the owner (records: `records_writer`, which may insert and read its log, never
    update it). The tools then log it in as a role of its own in that group, and give the
    owner's URL to its migrations only (`<PREFIX>MIGRATIONS_DATABASE_URL`)."""

    @property
    def settings_prefix(self) -> str:
        """Its environment variables' prefix, e.g. `RECORDS_` (RECORDS_PORT, ..._DATABASE_URL)."""
        return f"{self.name.upper()}_"

    @property
    def principal(self) -> str:
        """Its Kafka principal (contract section 8)."""
        return self.name

    @property
    def module(self) -> str:
        """Its Python package, under services/<name>/src/<name>."""
        return self.name

    @property
    def app(self) -> str:
        """The ASGI factory uvicorn runs (`--factory`): its composition root."""
        return f"{self.module}.app:create_app"

    @property
    def database(self) -> str:
        """Its PostgreSQL database under `mash cluster` (one per service)."""
        return f"mash_{self.name}"

    @property
    def database_login(self) -> str:
        """The PostgreSQL role it logs in as when it has a `database_role` (else the owner)."""
        return f"{self.database}_service" if self.database_role else ""

    @property
    def consumer_group(self) -> str:
        """Its consumer group (and the prefix its ACL allows)."""
        return f"mash-{self.name}"

    def group_of(self, topic: str) -> str:
        """The consumer group that consumes `topic` (its main one unless `groups` says)."""
        for suffix, topics in self.groups:
            if topic in topics:
                return f"{self.consumer_group}-{suffix}"
        return self.consumer_group

    @property
    def log_topic(self) -> str:
        """The topic of its records of processing, which only it may write (section 12)."""
        return audit_topic(self.name)

    def port_in(self, env: Mapping[str, str]) -> int:
        """Its port in this environment: `<PREFIX>PORT` when set, else the default."""
        return int(env.get(f"{self.settings_prefix}PORT", self.port))

    def url_in(self, env: Mapping[str, str]) -> str:
        """Its base URL on loopback in this environment."""
        return f"http://127.0.0.1:{self.port_in(env)}"


NAMES = ("intake", "triage", "notify", "marac", "perpetrators", "console", "records")
"""Every service's name, in the order the tools start and list them."""

_REFERRALS = tuple(referrals_topic(a) for a in AGENCIES)
_LOGS = tuple(audit_topic(name) for name in NAMES)

SERVICES: tuple[Service, ...] = (
    Service("intake", 8001, produces=(INCIDENTS, INTAKE_EQUALITY)),
    Service("triage", 8002, consumes=(INCIDENTS, MARAC), produces=(DECISIONS, SUMMARIES)),
    Service(
        "notify",
        8003,
        consumes=(DECISIONS, MARAC_IDVA_REFERRALS),
        produces=(*_REFERRALS, ESCALATIONS, REFERRAL_OUTCOMES),
        public_https="partners' webhooks (contract section 5)",
    ),
    Service(
        "marac",
        8004,
        consumes=(DECISIONS, INTAKE_EQUALITY),
        produces=(MARAC, MARAC_IDVA_REFERRALS, ESCALATIONS),
    ),
    Service("perpetrators", 8006, consumes=(DECISIONS,), produces=(PERPETRATORS,)),
    Service(
        "console",
        8005,
        consumes=(SUMMARIES, MARAC, REFERRAL_OUTCOMES),
        calls=("notify", "marac", "perpetrators", "records", "triage"),
        public_https="the OpenID Connect issuer (contract section 11)",
        settings_secret="console-oidc",  # noqa: S106 - a Secret's name, not a value
    ),
    # every service's log (its own included: its answers are logged too); the referral
    # topics, to keep each record as disclosed (a review's chronology), with a group of
    # their own; partners' committed offsets on those and on the perpetrators' topic are
    # turned into `consulted` entries (contract 12)
    Service(
        "records",
        8007,
        consumes=(*_LOGS, *_REFERRALS),
        observes=(PERPETRATORS,),
        groups=(("disclosures", _REFERRALS),),
        database_role="records_writer",
    ),
)
assert tuple(s.name for s in SERVICES) == NAMES
assert all(t.startswith(AUDIT_PREFIX) for t in _LOGS)

BY_NAME: Mapping[str, Service] = {s.name: s for s in SERVICES}


def service(name: str) -> Service:
    """The entry of one service (KeyError for a name the hub does not have)."""
    return BY_NAME[name]
