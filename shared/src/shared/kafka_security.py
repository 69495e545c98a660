"""Who may do what on the bus (contract section 8), and how a client proves who it is.

The ACL table below is the one definition of every Kafka principal's rights: the
broker's ACLs are created from it (`python -m mash_tools.admin`), its SCRAM users too,
and the Kubernetes manifests are generated from it. `client_options` is how every
client of the project (services, tools, tests) gets its principal's settings: the
password from this checkout's key material (`MASH_KAFKA_SECURITY_DIR`) and its CA.

Only what services import lives here; the tooling that creates the key material (the
certificate authority, the password file, the broker's settings, its command line) is
`mash_tools.kafka_material`.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import HubSettings
from shared.registry import NAMES
from shared.topics import (
    AGENCIES,
    AUDIT_PREFIX,
    DEADLETTER,
    DECISIONS,
    ESCALATIONS,
    INCIDENTS,
    INTAKE_EQUALITY,
    MARAC,
    MARAC_IDVA_REFERRALS,
    PERPETRATORS,
    REFERRAL_OUTCOMES,
    SUMMARIES,
    TOPIC_PREFIX,
    audit_topic,
    referrals_topic,
)

SASL_MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"
OPS = "ops"
NEIGHBOURHOOD_TEAM = "neighbourhood-team"
SERVICES = NAMES
"""The services' principals: one per service of the registry."""


@dataclass(frozen=True)
class Access:
    """One principal's rights: topics read and written (`prefix*` for a prefix), groups."""

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    group_prefixes: tuple[str, ...] = ()
    described_groups: tuple[str, ...] = ()
    """Group-id prefixes whose members and committed offsets it may describe (records)."""
    described_topics: tuple[str, ...] = ()
    """Topics (`prefix*`) whose metadata and offsets it may see, not read (records: the broker
    leaves a group's offsets on a topic out of the answer unless the asker may describe it)."""
    superuser: bool = False

    @property
    def idempotent_write(self) -> bool:
        """Every producer is idempotent, which needs the cluster's IdempotentWrite."""
        return bool(self.writes)


def _service(
    name: str,
    reads: tuple[str, ...],
    writes: tuple[str, ...],
    described_groups: tuple[str, ...] = (),
    described_topics: tuple[str, ...] = (),
) -> Access:
    """A service: its inputs, its outputs, the dead-letter topic and its own log topic
    (section 12: no other principal may write it, so nobody can forge its entries)."""
    return Access(
        reads=reads,
        writes=(*writes, DEADLETTER, audit_topic(name)),
        group_prefixes=(service_group(name),),
        described_groups=described_groups,
        described_topics=described_topics,
    )


def service_group(service: str) -> str:
    """A service's consumer-group id (and the prefix its ACL allows): `mash-<service>`."""
    return f"mash-{service}"


_REFERRALS = tuple(referrals_topic(a) for a in AGENCIES)

ACL_TABLE: Mapping[str, Access] = {
    # the victim's equality monitoring goes apart from the incident, for marac alone
    # (issue 21: never to triage, notify, perpetrators, the console, records or an agency)
    "intake": _service("intake", (), (INCIDENTS, INTAKE_EQUALITY)),
    "triage": _service("triage", (INCIDENTS, MARAC), (DECISIONS, SUMMARIES)),
    # the MARAC referrals IDVA is to be told of carry personal data: marac writes them for
    # notify alone (not the console, an agency or records; ops reads every mash.* topic)
    "notify": _service(
        "notify",
        (DECISIONS, MARAC_IDVA_REFERRALS),
        (*_REFERRALS, ESCALATIONS, REFERRAL_OUTCOMES),
    ),
    "marac": _service(
        "marac", (DECISIONS, INTAKE_EQUALITY), (MARAC, MARAC_IDVA_REFERRALS, ESCALATIONS)
    ),
    "perpetrators": _service("perpetrators", (DECISIONS,), (PERPETRATORS,)),
    # topics without personal data only (contract section 8): an overdue referral is told
    # by notify's outcomes (each carries its `due_by`), not by the escalations
    "console": _service("console", (SUMMARIES, MARAC, REFERRAL_OUTCOMES), ()),
    # every log topic, and what the partners consume (to log it from their committed offsets)
    "records": _service(
        "records",
        (f"{AUDIT_PREFIX}*", *_REFERRALS, PERPETRATORS),
        (),
        described_groups=(*(f"{a}." for a in AGENCIES), f"{NEIGHBOURHOOD_TEAM}.", f"{OPS}."),
        described_topics=(f"{TOPIC_PREFIX}*",),
    ),
    **{a: Access(reads=(referrals_topic(a),), group_prefixes=(f"{a}.",)) for a in AGENCIES},
    NEIGHBOURHOOD_TEAM: Access(reads=(PERPETRATORS,), group_prefixes=(f"{NEIGHBOURHOOD_TEAM}.",)),
    OPS: Access(reads=(f"{TOPIC_PREFIX}*",), group_prefixes=(f"{OPS}.",)),
    ADMIN: Access(superuser=True),
}
PRINCIPALS = tuple(ACL_TABLE)


def producer_of(topic: str) -> str:
    """The principal that writes `topic` in production (shared topics excluded)."""
    for name, access in ACL_TABLE.items():
        if topic in access.writes and topic != DEADLETTER and not topic.startswith(AUDIT_PREFIX):
            return name
    raise KeyError(f"no principal writes {topic}")


# -- ACL bindings, in Kafka's protocol numbers (org.apache.kafka.common.acl / resource)
TOPIC, GROUP, CLUSTER = 2, 3, 4
LITERAL, PREFIXED = 3, 4
READ, WRITE, DESCRIBE, IDEMPOTENT_WRITE = 3, 4, 8, 12
ALLOW = 3
CLUSTER_NAME = "kafka-cluster"


@dataclass(frozen=True)
class Binding:
    resource_type: int
    name: str
    pattern: int
    principal: str
    operation: int


def _topic(name: str) -> tuple[str, int]:
    return (name[:-1], PREFIXED) if name.endswith("*") else (name, LITERAL)


def bindings(table: Mapping[str, Access] = ACL_TABLE) -> list[Binding]:
    """Every ACL the table implies (the superuser needs none: it is in `super.users`)."""
    out: list[Binding] = []
    for name, access in table.items():
        principal = f"User:{name}"
        for topic in access.reads:
            resource, pattern = _topic(topic)
            out += [
                Binding(TOPIC, resource, pattern, principal, READ),
                Binding(TOPIC, resource, pattern, principal, DESCRIBE),
            ]
        for topic in access.writes:
            resource, pattern = _topic(topic)
            out += [
                Binding(TOPIC, resource, pattern, principal, WRITE),
                Binding(TOPIC, resource, pattern, principal, DESCRIBE),
            ]
        for prefix in access.group_prefixes:
            out.append(Binding(GROUP, prefix, PREFIXED, principal, READ))
        for prefix in access.described_groups:
            out.append(Binding(GROUP, prefix, PREFIXED, principal, DESCRIBE))
        for topic in access.described_topics:
            resource, pattern = _topic(topic)
            out.append(Binding(TOPIC, resource, pattern, principal, DESCRIBE))
        if access.idempotent_write:
            out.append(Binding(CLUSTER, CLUSTER_NAME, LITERAL, principal, IDEMPOTENT_WRITE))
    return list(dict.fromkeys(out))


# -- reading the key material ---------------------------------------------------------------
CA_FILE = "ca.pem"
PASSWORDS_FILE = "passwords.json"


def security_dir(platform: HubSettings | None = None) -> Path:
    """This checkout's Kafka key material (`mash_tools.kafka_material` creates it)."""
    return (platform or HubSettings()).kafka_security_dir.resolve()


def read_passwords(directory: Path) -> dict[str, str]:
    """Every principal's password as stored under `directory` (none yet: empty)."""
    path = directory / PASSWORDS_FILE
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): str(v) for k, v in data.items()}


def password_of(principal: str, directory: Path) -> str:
    passwords = read_passwords(directory)
    if principal not in passwords:
        raise KeyError(f"no Kafka password for {principal!r} under {directory}")
    return passwords[principal]


# -- client settings --------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    bootstrap: str
    protocol: str
    username: str
    password: str
    cafile: Path

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        if self.protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {
            "security_protocol": self.protocol,
            "sasl_mechanism": SASL_MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }
        if self.protocol == "SASL_SSL":
            options["ssl_context"] = ssl.create_default_context(cafile=str(self.cafile))
        return options

    def as_json(self) -> dict[str, str]:
        """Contract section 8: aiokafka's constructor arguments plus `ssl_cafile`."""
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.protocol,
            "sasl_mechanism": SASL_MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
            "ssl_cafile": str(self.cafile),
        }

    def as_properties(self) -> str:
        """The same for Java clients (`kafka-console-consumer --consumer.config`)."""
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{self.username}" password="{self.password}";'
        )
        lines = [
            f"bootstrap.servers={self.bootstrap}",
            f"security.protocol={self.protocol}",
            f"sasl.mechanism={SASL_MECHANISM}",
            f"sasl.jaas.config={jaas}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.cafile}",
        ]
        return "\n".join(lines) + "\n"


def credentials(principal: str, platform: HubSettings | None = None) -> Credentials:
    """The Kafka identity a client of the project uses.

    `principal` is the default (a service's own name, `admin` for set-up, `ops`...);
    `MASH_KAFKA_USERNAME` / `MASH_KAFKA_PASSWORD` override it, and the password otherwise
    comes from this checkout's generated passwords.
    """
    platform = platform or HubSettings()
    directory = security_dir(platform)
    username = platform.kafka_username or principal
    if platform.kafka_security_protocol == "PLAINTEXT":
        password = ""
    elif platform.kafka_password:
        password = platform.kafka_password
    else:
        password = password_of(username, directory)
    cafile = platform.kafka_ca_file or directory / CA_FILE
    return Credentials(
        bootstrap=platform.kafka_bootstrap,
        protocol=platform.kafka_security_protocol,
        username=username,
        password=password,
        cafile=cafile.resolve(),
    )


def client_options(principal: str, platform: HubSettings | None = None) -> dict[str, Any]:
    """aiokafka keyword arguments (security only) for `principal`: the one place clients ask."""
    return credentials(principal, platform).aiokafka()
