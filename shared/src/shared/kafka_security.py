"""Who may do what on the bus (contract section 8), and the key material that proves it.

The ACL table below is the one definition of every Kafka principal's rights: the
broker's ACLs are created from it (`python -m mash_tools.admin`), its SCRAM users too, and
later deployment manifests can be generated from it. The material lives in one
directory per checkout (`MASH_KAFKA_SECURITY_DIR`, default `.data/kafka-security`,
owner-only): the stack's certificate authority, the broker's certificate and key, and a
generated password for every principal.

python -m shared.kafka_security init               create what is missing (idempotent)
python -m shared.kafka_security scram-args         `--add-scram` arguments for StorageTool
python -m shared.kafka_security broker-properties  the security part of server.properties
python -m shared.kafka_security acl-table          the table as JSON (for other deployments)
python -m shared.kafka_security new-password       a fresh password, printed
python -m shared.kafka_security set-password P     store P's password (read from stdin)
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import secrets
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import PlatformSettings
from shared.registry import NAMES
from shared.topics import (
    AGENCIES,
    AUDIT_PREFIX,
    DEADLETTER,
    DECISIONS,
    ESCALATIONS,
    INCIDENTS,
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
    "intake": _service("intake", (), (INCIDENTS,)),
    "triage": _service("triage", (INCIDENTS, MARAC), (DECISIONS, SUMMARIES)),
    # the MARAC referrals IDVA is to be told of carry personal data: marac writes them for
    # notify alone (not the console, an agency or records; ops reads every mash.* topic)
    "notify": _service(
        "notify",
        (DECISIONS, MARAC_IDVA_REFERRALS),
        (*_REFERRALS, ESCALATIONS, REFERRAL_OUTCOMES),
    ),
    "marac": _service("marac", (DECISIONS,), (MARAC, MARAC_IDVA_REFERRALS, ESCALATIONS)),
    "perpetrators": _service("perpetrators", (DECISIONS,), (PERPETRATORS,)),
    # topics without personal data only (contract section 8); escalations (ids and times)
    # for the dashboard's overdue referrals
    "console": _service("console", (SUMMARIES, MARAC, ESCALATIONS, REFERRAL_OUTCOMES), ()),
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


# -- key material ---------------------------------------------------------------------------
CA_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
BROKER_FILE = "broker.pem"
PASSWORDS_FILE = "passwords.json"


def security_dir(platform: PlatformSettings | None = None) -> Path:
    return (platform or PlatformSettings()).kafka_security_dir.resolve()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    path.chmod(0o600)


def ensure_material(directory: Path) -> None:
    """Create, once, the CA, the broker's certificate and every principal's password."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    if not (directory / BROKER_FILE).exists() or not (directory / CA_FILE).exists():
        _make_certificates(directory)
    elif not _broker_is_a_client_too(directory):
        _reissue_broker_certificate(directory)
    passwords = _read_passwords(directory)
    missing = [p for p in PRINCIPALS if p not in passwords]
    if missing:
        passwords.update({p: secrets.token_urlsafe(24) for p in missing})
        _write_private(directory / PASSWORDS_FILE, json.dumps(passwords, indent=2).encode() + b"\n")


def _make_certificates(directory: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "MASH local certificate authority")]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    _write_private(directory / CA_KEY_FILE, ca_key.private_bytes(pem, pkcs8, plain))
    _write_private(directory / CA_FILE, ca_cert.public_bytes(pem))
    _issue_broker_certificate(directory, ca_key, ca_cert)


BROKER_PRINCIPAL = "User:CN=localhost"
"""The broker itself on the controller listener (mutual TLS, its own certificate): the only
identity that listener admits, as no one else holds a certificate of the stack's CA."""


def _broker_is_a_client_too(directory: Path) -> bool:
    """Whether the broker's certificate may also authenticate a client (the controller
    listener's mutual TLS); a checkout secured before that needs a new one."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        cert = x509.load_pem_x509_certificates((directory / BROKER_FILE).read_bytes())[0]
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (OSError, ValueError, IndexError, x509.ExtensionNotFound):
        return False
    return ExtendedKeyUsageOID.CLIENT_AUTH in usage


def _reissue_broker_certificate(directory: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    ca_key = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((directory / CA_FILE).read_bytes())
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    _issue_broker_certificate(directory, ca_key, ca_cert)


def _issue_broker_certificate(directory: Path, ca_key: Any, ca_cert: Any) -> None:
    """The broker's key and certificate, for serving TLS and, on the controller listener,
    for proving itself to its own controller (server and client authentication)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    _write_private(
        directory / BROKER_FILE,
        key.private_bytes(pem, pkcs8, plain) + cert.public_bytes(pem) + ca_cert.public_bytes(pem),
    )


def _read_passwords(directory: Path) -> dict[str, str]:
    path = directory / PASSWORDS_FILE
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): str(v) for k, v in data.items()}


def set_password(principal: str, password: str, directory: Path) -> None:
    """Record a principal's new password (after the broker has been told: rotation)."""
    if principal not in PRINCIPALS:
        raise KeyError(principal)
    passwords = _read_passwords(directory)
    passwords[principal] = password
    _write_private(directory / PASSWORDS_FILE, json.dumps(passwords, indent=2).encode() + b"\n")


def password_of(principal: str, directory: Path) -> str:
    passwords = _read_passwords(directory)
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


def credentials(principal: str, platform: PlatformSettings | None = None) -> Credentials:
    """The Kafka identity a client of the project uses.

    `principal` is the default (a service's own name, `admin` for set-up, `ops`...);
    `MASH_KAFKA_USERNAME` / `MASH_KAFKA_PASSWORD` override it, and the password otherwise
    comes from this checkout's generated passwords.
    """
    platform = platform or PlatformSettings()
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


def client_options(principal: str, platform: PlatformSettings | None = None) -> dict[str, Any]:
    """aiokafka keyword arguments (security only) for `principal`: the one place clients ask."""
    return credentials(principal, platform).aiokafka()


# -- the broker's side ------------------------------------------------------------------------
def scram_args(directory: Path) -> list[str]:
    passwords = _read_passwords(directory)
    return [
        f"{SASL_MECHANISM}=[name={p},password={passwords[p]}]" for p in PRINCIPALS if p in passwords
    ]


def broker_properties(directory: Path) -> str:
    """The security settings of server.properties (contract section 8)."""
    admin = password_of(ADMIN, directory)
    return "\n".join(
        [
            f"sasl.enabled.mechanisms={SASL_MECHANISM}",
            f"sasl.mechanism.inter.broker.protocol={SASL_MECHANISM}",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{admin}";',
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={directory / BROKER_FILE}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={directory / CA_FILE}",
            # the controller listener: mutual TLS, so only a holder of a certificate of the
            # stack's CA (the broker alone) gets in; no anonymous client, no superuser
            "listener.name.controller.ssl.client.auth=required",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            f"super.users=User:{ADMIN};{BROKER_PRINCIPAL}",
            "allow.everyone.if.no.acl.found=false",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "command",
        choices=[
            "init",
            "scram-args",
            "broker-properties",
            "acl-table",
            "new-password",
            "set-password",
        ],
    )
    parser.add_argument("principal", nargs="?", help="for set-password")
    parser.add_argument("--dir", type=Path, default=None, help="MASH_KAFKA_SECURITY_DIR")
    args = parser.parse_args(argv)
    if args.command == "new-password":
        print(secrets.token_urlsafe(24))
        return
    if args.command == "acl-table":
        table = {
            name: {
                "reads": list(a.reads),
                "writes": list(a.writes),
                "group_prefixes": list(a.group_prefixes),
                "idempotent_write": a.idempotent_write,
                "described_groups": list(a.described_groups),
                "described_topics": list(a.described_topics),
                "superuser": a.superuser,
            }
            for name, a in ACL_TABLE.items()
        }
        print(json.dumps(table, indent=2))
        return
    directory = (args.dir or security_dir()).resolve()
    ensure_material(directory)
    if args.command == "set-password":
        set_password(args.principal, sys.stdin.readline().strip(), directory)
    elif args.command == "scram-args":
        for arg in scram_args(directory):
            print(arg)
    elif args.command == "broker-properties":
        print(broker_properties(directory))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
