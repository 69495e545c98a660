"""The stack's Kafka key material, and the broker's side of its security (contract 8).

Tooling, not what a service imports: `shared.kafka_security` holds the ACL table and the
client settings services read; this module creates what they read. The material lives in
one directory per checkout (`MASH_KAFKA_SECURITY_DIR`, default `.data/kafka-security`,
owner-only): the stack's certificate authority, the broker's certificate and key, and a
generated password for every principal of the ACL table.

python -m mash_tools.kafka_material init               create what is missing (idempotent)
python -m mash_tools.kafka_material scram-args         `--add-scram` arguments for StorageTool
python -m mash_tools.kafka_material broker-properties  the security part of server.properties
python -m mash_tools.kafka_material acl-table          the table as JSON (for other deployments)
python -m mash_tools.kafka_material new-password       a fresh password, printed
python -m mash_tools.kafka_material set-password P     store P's password (read from stdin)
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from shared.kafka_security import (
    ACL_TABLE,
    ADMIN,
    CA_FILE,
    PASSWORDS_FILE,
    PRINCIPALS,
    SASL_MECHANISM,
    password_of,
    read_passwords,
    security_dir,
)

CA_KEY_FILE = "ca.key"
BROKER_FILE = "broker.pem"


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
    passwords = read_passwords(directory)
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


def set_password(principal: str, password: str, directory: Path) -> None:
    """Record a principal's new password (after the broker has been told: rotation)."""
    if principal not in PRINCIPALS:
        raise KeyError(principal)
    passwords = read_passwords(directory)
    passwords[principal] = password
    _write_private(directory / PASSWORDS_FILE, json.dumps(passwords, indent=2).encode() + b"\n")


# -- the broker's side ------------------------------------------------------------------------
def scram_args(directory: Path) -> list[str]:
    passwords = read_passwords(directory)
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
