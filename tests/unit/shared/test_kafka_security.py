"""The ACL table's bindings and the client settings (section 8)."""

from __future__ import annotations

from pathlib import Path

from mash_tools.kafka_material import ensure_material
from shared import kafka_security as ks
from shared.config import HubSettings


def test_an_agency_gets_read_on_its_topic_and_its_group_prefix_only() -> None:
    idva = {b for b in ks.bindings() if b.principal == "User:idva"}
    assert idva == {
        ks.Binding(ks.TOPIC, "mash.referrals.idva.v1", ks.LITERAL, "User:idva", ks.READ),
        ks.Binding(ks.TOPIC, "mash.referrals.idva.v1", ks.LITERAL, "User:idva", ks.DESCRIBE),
        ks.Binding(ks.GROUP, "idva.", ks.PREFIXED, "User:idva", ks.READ),
    }


def test_ops_reads_the_mash_prefix_and_writes_nothing() -> None:
    ops = {b for b in ks.bindings() if b.principal == "User:ops"}
    assert {b.operation for b in ops} == {ks.READ, ks.DESCRIBE}
    assert ks.Binding(ks.TOPIC, "mash.", ks.PREFIXED, "User:ops", ks.READ) in ops


def test_only_triage_may_write_decisions_and_every_producer_may_be_idempotent() -> None:
    writers = {
        b.principal
        for b in ks.bindings()
        if b.operation == ks.WRITE and b.name == "mash.triage.decisions.v1"
    }
    assert writers == {"User:triage"}
    idempotent = {b.principal for b in ks.bindings() if b.operation == ks.IDEMPOTENT_WRITE}
    assert idempotent == {f"User:{s}" for s in ks.SERVICES}
    assert not [b for b in ks.bindings() if b.principal == "User:admin"]  # a super user


def test_credentials_are_the_principals_own_unless_overridden(tmp_path: Path) -> None:
    ensure_material(tmp_path)
    platform = HubSettings(kafka_security_dir=tmp_path, kafka_bootstrap="127.0.0.1:1")
    creds = ks.credentials("notify", platform)
    assert creds.username == "notify"
    assert creds.password == ks.password_of("notify", tmp_path)
    assert creds.aiokafka()["security_protocol"] == "SASL_SSL"
    props = creds.as_properties()
    assert 'username="notify"' in props
    assert f"ssl.truststore.location={tmp_path / 'ca.pem'}" in props
    chosen = HubSettings(kafka_security_dir=tmp_path, kafka_username="ops", kafka_password="given")
    assert (ks.credentials("notify", chosen).username, chosen.kafka_password) == ("ops", "given")
    assert ks.credentials("notify", chosen).password == "given"
    plain = HubSettings(kafka_security_dir=tmp_path, kafka_security_protocol="PLAINTEXT")
    assert ks.client_options("notify", plain) == {}
