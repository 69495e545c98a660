"""The stack's Kafka key material (contract section 8): made once, owner-only, with the
names the broker answers to, and the broker's settings that use it."""

from __future__ import annotations

import ipaddress
import json
import stat
from pathlib import Path

from cryptography import x509

from mash_tools import kafka_material as km
from shared import kafka_security as ks


def test_the_material_is_made_once_owner_only_with_the_brokers_names(tmp_path: Path) -> None:
    directory = tmp_path / "sec"
    km.ensure_material(directory)
    first = (directory / ks.PASSWORDS_FILE).read_text()
    km.ensure_material(directory)
    assert (directory / ks.PASSWORDS_FILE).read_text() == first
    assert set(json.loads(first)) == set(ks.PRINCIPALS)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for f in directory.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    pem = (directory / km.BROKER_FILE).read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, then the chain
    cert = x509.load_pem_x509_certificates(pem[pem.index(b"-----BEGIN CERTIFICATE") :])[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_the_broker_admits_only_its_admin_and_itself_as_super_users(tmp_path: Path) -> None:
    km.ensure_material(tmp_path)
    props = dict(
        line.split("=", 1) for line in km.broker_properties(tmp_path).splitlines() if "=" in line
    )
    assert props["super.users"] == f"User:{ks.ADMIN};{km.BROKER_PRINCIPAL}"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert len(km.scram_args(tmp_path)) == len(ks.PRINCIPALS)


def test_a_stored_password_replaces_only_that_principals(tmp_path: Path) -> None:
    km.ensure_material(tmp_path)
    before = ks.read_passwords(tmp_path)
    km.set_password("idva", "rotated", tmp_path)
    after = ks.read_passwords(tmp_path)
    assert after == {**before, "idva": "rotated"}
