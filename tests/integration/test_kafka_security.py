"""The bus lets in only those it knows, each only where it belongs (contract section 8).

Every check runs against the suite's broker, secured as `make run` secures it. A refused
read in aiokafka can look like a fetch that never returns records rather than an error,
so every refusal is checked for records as well: a marker the test put on the topic (as
the principal that writes it in production) must never reach a refused reader, while
the same reader function, given an allowed principal, does receive it.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from mash_tools.testing import TopicReader, eventually, headers_of, kafka_options, running
from shared import kafka_security, registry
from shared.config import ROOT
from shared.envelope import CloudEvent
from shared.kafka_security import ACL_TABLE, OPS, PRINCIPALS, producer_of
from shared.topics import (
    AGENCIES,
    ALL_TOPICS,
    AUDIT_PREFIX,
    AUDIT_TOPICS,
    DEADLETTER,
    DECISIONS,
    ESCALATIONS,
    INCIDENTS,
    INTAKE_EQUALITY,
    MARAC,
    MARAC_IDVA_REFERRALS,
    PERPETRATORS,
    TRIAGE_DECIDED,
    audit_topic,
    referrals_topic,
)
from tests.integration.notify.kit import notify_app, publish, referrals_of
from tests.unit.notify import builders

pytestmark = pytest.mark.kafka

READ_WAIT = 5.0  # seconds a refused reader is given to (wrongly) receive the marker
FOUND_WAIT = 60.0  # a reader that may read returns as soon as it has: a loaded machine is slow


def _ca() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(kafka_security.credentials(OPS).cafile))


@dataclass(frozen=True)
class Marker:
    topic: str
    partition: int
    offset: int
    value: bytes


def writer_of(topic: str) -> str:
    """The principal that writes `topic` in production: a log topic's own service (no
    other may), any service for the dead letters, else the ACL table's producer."""
    if topic.startswith(AUDIT_PREFIX):
        return topic.removeprefix(AUDIT_PREFIX).removesuffix(".v1")
    return "notify" if topic == DEADLETTER else producer_of(topic)


async def put_marker(
    bootstrap: str, topic: str, principal: str | None = None, key: bytes | None = None
) -> Marker:
    """A unique record on `topic`, written by the principal that writes it in production."""
    principal = principal or writer_of(topic)
    value = f"marker-{uuid.uuid4()}".encode()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, **kafka_options(principal)
    )
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=key or uuid.uuid4().bytes)
    finally:
        await producer.stop()
    return Marker(topic, meta.partition, meta.offset, value)


async def reads(
    bootstrap: str,
    marker: Marker,
    options: dict[str, Any],
    group: str | None = None,
    wait: float = READ_WAIT,
) -> bool:
    """True when a client with `options` receives `marker` within `wait` seconds: read
    from its offset, or (with `group`) as a member of that consumer group from the start.
    An error (authentication, authorisation) counts as not received."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=5000,
        **options,
    )
    tp = TopicPartition(marker.topic, marker.partition)
    try:
        async with asyncio.timeout(wait):
            await consumer.start()
            if group is None:
                consumer.assign([tp])
                consumer.seek(tp, marker.offset)
            else:
                consumer.subscribe([marker.topic])
            while True:
                batches = await consumer.getmany(timeout_ms=300)
                if any(r.value == marker.value for rs in batches.values() for r in rs):
                    if group is not None:
                        await consumer.commit()  # the group is used, not only named
                    return True
    except (KafkaError, TimeoutError):
        return False
    finally:
        await consumer.stop()


async def write(
    bootstrap: str,
    topic: str,
    options: dict[str, Any],
    value: bytes = b"forged",
    headers: list[tuple[str, bytes]] | None = None,
) -> bool:
    """True when the broker acknowledged a write to `topic` with `options`."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000, **options)
    try:
        async with asyncio.timeout(READ_WAIT * 2):
            await producer.start()
            await producer.send_and_wait(topic, value, key=b"victim-k", headers=headers or [])
    except (KafkaError, TimeoutError):
        return False
    finally:
        await producer.stop()
    return True


async def lists(bootstrap: str, options: dict[str, Any]) -> list[str] | None:
    """The topics an admin client with `options` can see, None when refused."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **options)
    try:
        async with asyncio.timeout(READ_WAIT):
            await admin.start()
            return list(await admin.list_topics())
    except (KafkaError, TimeoutError):
        return None
    finally:
        await admin.close()


def as_user(name: str, password: str) -> dict[str, Any]:
    return {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": name,
        "sasl_plain_password": password,
        "ssl_context": _ca(),
    }


def strangers() -> dict[str, dict[str, Any]]:
    return {
        "plaintext": {},
        "tls without credentials": {"security_protocol": "SSL", "ssl_context": _ca()},
        "wrong password": as_user("idva", "not-the-password"),
        "unknown user": as_user("mallory", "whatever"),
        "admin's name, wrong password": as_user("admin", "guess"),
    }


@pytest.mark.parametrize("who", list(strangers()))
async def test_a_client_without_valid_credentials_cannot_list_read_or_write(
    kafka_bootstrap: str, who: str
) -> None:
    options = strangers()[who]
    marker = await put_marker(kafka_bootstrap, referrals_topic("idva"))
    # the same reader and lister with real credentials see the marker and the topics
    assert await reads(kafka_bootstrap, marker, kafka_options("idva"), wait=FOUND_WAIT)
    assert await lists(kafka_bootstrap, kafka_options(OPS))

    assert await lists(kafka_bootstrap, options) is None
    assert not await reads(kafka_bootstrap, marker, options)
    assert not await write(kafka_bootstrap, referrals_topic("idva"), options)


@pytest.mark.parametrize("agency", AGENCIES)
async def test_an_agency_reads_its_own_topic_and_nothing_else(
    kafka_bootstrap: str, agency: str
) -> None:
    own = referrals_topic(agency)
    others = [referrals_topic(a) for a in AGENCIES if a != agency]
    forbidden = [
        *others,
        INCIDENTS,
        DECISIONS,
        MARAC,
        MARAC_IDVA_REFERRALS,
        INTAKE_EQUALITY,
        DEADLETTER,
        PERPETRATORS,
        ESCALATIONS,
    ]
    mine = kafka_options(agency)
    marker = await put_marker(kafka_bootstrap, own)
    assert await reads(kafka_bootstrap, marker, mine, wait=FOUND_WAIT)
    assert await reads(kafka_bootstrap, marker, mine, group=f"{agency}.reader", wait=FOUND_WAIT)

    markers = [await put_marker(kafka_bootstrap, t) for t in forbidden]
    theirs = await asyncio.gather(*(reads(kafka_bootstrap, m, mine) for m in markers))
    ops = await asyncio.gather(
        *(reads(kafka_bootstrap, m, kafka_options(OPS), wait=FOUND_WAIT) for m in markers)
    )
    assert all(ops)  # each marker is there to be read...
    assert dict(zip(forbidden, theirs, strict=True)) == dict.fromkeys(
        forbidden, False
    )  # ...not by it

    visible = await lists(kafka_bootstrap, mine)
    assert visible is not None
    assert set(visible) & set(ALL_TOPICS) == {own}


@pytest.mark.parametrize("agency", ["idva", "school"])
async def test_an_agency_cannot_write_anything_nor_use_groups_outside_its_prefix(
    kafka_bootstrap: str, agency: str
) -> None:
    mine = kafka_options(agency)
    own = referrals_topic(agency)
    writes = await asyncio.gather(*(write(kafka_bootstrap, t, mine) for t in ALL_TOPICS))
    assert not any(writes)

    marker = await put_marker(kafka_bootstrap, own)
    assert await reads(
        kafka_bootstrap, marker, mine, group=f"{agency}.ok-{uuid.uuid4().hex}", wait=FOUND_WAIT
    )
    outside = [f"{agency}-no-dot", "mash-notify", f"ops.{agency}", "victim-support."]
    refused = await asyncio.gather(
        *(reads(kafka_bootstrap, marker, mine, group=g) for g in outside)
    )
    assert dict(zip(outside, refused, strict=True)) == dict.fromkeys(outside, False)

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, **mine)
    await admin.start()
    try:
        created = await admin.create_topics([NewTopic(f"mash.{agency}.own.v1", 1, 1)])
        assert all(code != 0 for _, code, *_ in created.topic_errors)
        deleted = await admin.delete_topics([own])
        assert all(code != 0 for _, code, *_ in deleted.topic_error_codes)
    finally:
        await admin.close()
    visible = set(await lists(kafka_bootstrap, kafka_options(OPS)) or [])
    assert own in visible
    assert f"mash.{agency}.own.v1" not in visible


async def test_ops_reads_every_topic_and_writes_none(kafka_bootstrap: str) -> None:
    markers = [await put_marker(kafka_bootstrap, t) for t in ALL_TOPICS]
    ops = kafka_options(OPS)
    seen = await asyncio.gather(*(reads(kafka_bootstrap, m, ops, wait=FOUND_WAIT) for m in markers))
    assert dict(zip(ALL_TOPICS, seen, strict=True)) == dict.fromkeys(ALL_TOPICS, True)
    assert await reads(
        kafka_bootstrap, markers[0], ops, group=f"ops.{uuid.uuid4().hex}", wait=FOUND_WAIT
    )
    assert set(await lists(kafka_bootstrap, ops) or []) >= set(ALL_TOPICS)
    assert not any(await asyncio.gather(*(write(kafka_bootstrap, t, ops) for t in ALL_TOPICS)))


async def test_the_marac_referrals_for_idva_are_notifys_alone(kafka_bootstrap: str) -> None:
    """Marac's internal topic carries referred victims' personal data: notify (and ops)
    read it; the console, records, an agency and the other services do not."""
    marker = await put_marker(kafka_bootstrap, MARAC_IDVA_REFERRALS)
    assert producer_of(MARAC_IDVA_REFERRALS) == "marac"
    assert await reads(kafka_bootstrap, marker, kafka_options("notify"), wait=FOUND_WAIT)
    group = f"mash-notify-{uuid.uuid4().hex[:8]}"
    assert await reads(kafka_bootstrap, marker, kafka_options("notify"), group, wait=FOUND_WAIT)
    refused = ["console", "records", "idva", "triage", "perpetrators", "marac"]
    seen = await asyncio.gather(
        *(reads(kafka_bootstrap, marker, kafka_options(p)) for p in refused)
    )
    assert dict(zip(refused, seen, strict=True)) == dict.fromkeys(refused, False)
    readers = {p for p, a in ACL_TABLE.items() if MARAC_IDVA_REFERRALS in a.reads}
    assert readers == {"notify"}  # ops by its mash.* prefix; admin as the superuser


async def test_the_equality_monitoring_is_intake_s_to_write_and_marac_s_alone_to_read(
    kafka_bootstrap: str,
) -> None:
    """Issue 21: a victim's equality monitoring reaches marac only (and ops, who reads every
    mash.* topic): triage, notify, perpetrators, the console, records and the agencies
    cannot read it; only intake writes it."""
    marker = await put_marker(kafka_bootstrap, INTAKE_EQUALITY)
    assert producer_of(INTAKE_EQUALITY) == "intake"
    group = f"mash-marac-{uuid.uuid4().hex[:8]}"
    assert await reads(kafka_bootstrap, marker, kafka_options("marac"), group, wait=FOUND_WAIT)
    refused = [p for p in PRINCIPALS if p not in ("marac", OPS, kafka_security.ADMIN)]
    seen = await asyncio.gather(
        *(reads(kafka_bootstrap, marker, kafka_options(p)) for p in refused)
    )
    assert dict(zip(refused, seen, strict=True)) == dict.fromkeys(refused, False)
    readers = {p for p, a in ACL_TABLE.items() if INTAKE_EQUALITY in a.reads}
    assert readers == {"marac"}  # ops by its mash.* prefix; admin as the superuser
    writers = ["intake", "marac", "triage"]
    wrote = await asyncio.gather(
        *(write(kafka_bootstrap, INTAKE_EQUALITY, kafka_options(p)) for p in writers)
    )
    assert dict(zip(writers, wrote, strict=True)) == {
        "intake": True,
        "marac": False,
        "triage": False,
    }


def test_each_service_may_write_only_its_own_outputs() -> None:
    """The table the ACLs are made from: one writer per topic of contract section 7."""
    assert [p for p, a in ACL_TABLE.items() if DECISIONS in a.writes] == ["triage"]
    assert [p for p, a in ACL_TABLE.items() if INCIDENTS in a.writes] == ["intake"]
    assert [p for p, a in ACL_TABLE.items() if INTAKE_EQUALITY in a.writes] == ["intake"]
    assert [p for p, a in ACL_TABLE.items() if MARAC in a.writes] == ["marac"]
    for service in kafka_security.SERVICES:
        assert set(ACL_TABLE[service].writes) >= {DEADLETTER, audit_topic(service)}
        assert ACL_TABLE[service].group_prefixes == (f"mash-{service}",)
    # section 12: a log topic has one writer, its service (no prefix grant covers another's)
    for principal, access in ACL_TABLE.items():
        logs = [t for t in access.writes if t.startswith(AUDIT_PREFIX) or t.endswith("*")]
        assert logs == ([audit_topic(principal)] if principal in kafka_security.SERVICES else [])


@pytest.mark.parametrize("forger", ["notify", "idva", "marac", "ops"])
async def test_a_forged_decision_is_refused_and_nothing_downstream_acts_on_it(
    kafka_bootstrap: str, sqlite_url: str, group: str, forger: str
) -> None:
    forged = builders.decision_data()
    genuine = builders.decision_data()
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/mash/triage",
        type=TRIAGE_DECIDED,
        subject=str(forged["incident_id"]),
        data=forged,
    )
    async with (
        running(notify_app(kafka_bootstrap, sqlite_url, group)) as client,
        TopicReader(kafka_bootstrap, DECISIONS) as decisions,
    ):
        accepted = await write(
            kafka_bootstrap, DECISIONS, kafka_options(forger), event.value(), event.headers()
        )
        assert not accepted
        await publish(kafka_bootstrap, genuine)  # as triage: this one is acted on

        async def genuine_referrals() -> list[dict[str, Any]]:
            return await referrals_of(client, "idva", genuine["incident_id"])

        assert await eventually(genuine_referrals)
        # the same key, so the same partition: a forged decision would have come first
        for agency in AGENCIES:
            assert await referrals_of(client, agency, forged["incident_id"]) == []
        await decisions.wait_for(
            lambda r: headers_of(r).get("ce_subject") == genuine["incident_id"]
        )
        subjects = {headers_of(r).get("ce_subject") for r in decisions.records}
        assert forged["incident_id"] not in subjects


def credentials_cli(principal: str, *args: str, bootstrap: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MASH_KAFKA_BOOTSTRAP": bootstrap}
    return subprocess.run(
        [str(Path(sys.executable).parent / "mash"), "kafka-credentials", principal, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


async def test_mash_kafka_credentials_json_works_with_aiokafka(kafka_bootstrap: str) -> None:
    done = credentials_cli("victim-support", "--format", "json", bootstrap=kafka_bootstrap)
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)
    assert set(settings) == {
        "bootstrap_servers",
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
        "ssl_cafile",
    }
    assert settings["security_protocol"] == "SASL_SSL"
    assert settings["sasl_mechanism"] == "SCRAM-SHA-512"
    assert settings["sasl_plain_username"] == "victim-support"
    assert Path(settings["ssl_cafile"]).is_absolute()
    assert settings["bootstrap_servers"] == kafka_bootstrap

    import aiokafka.helpers

    cafile = settings.pop("ssl_cafile")
    settings.pop("bootstrap_servers")
    options = {**settings, "ssl_context": aiokafka.helpers.create_ssl_context(cafile=cafile)}
    marker = await put_marker(kafka_bootstrap, referrals_topic("victim-support"))
    assert await reads(kafka_bootstrap, marker, options, wait=FOUND_WAIT)
    assert not await reads(kafka_bootstrap, await put_marker(kafka_bootstrap, INCIDENTS), options)


def test_mash_kafka_credentials_refuses_an_unknown_principal(kafka_bootstrap: str) -> None:
    done = credentials_cli("mallory", bootstrap=kafka_bootstrap)
    assert done.returncode != 0
    assert done.stdout == ""
    assert "mallory" in done.stderr


async def test_kafkas_console_consumer_reads_idva_with_the_printed_properties(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    done = credentials_cli("idva", bootstrap=kafka_bootstrap)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "idva.properties"
    config.write_text(done.stdout)
    meta = await put_marker(kafka_bootstrap, referrals_topic("idva"))
    marker = meta.value.decode()

    def consume(topic: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "bash",
                str(ROOT / "deploy" / "kafka-console.sh"),
                "consumer",
                "--bootstrap-server",
                kafka_bootstrap,
                "--consumer.config",
                str(config),
                "--topic",
                topic,
                "--partition",
                str(meta.partition),
                "--offset",
                str(meta.offset),
                "--max-messages",
                "1",
                "--timeout-ms",
                "20000",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    own = await asyncio.to_thread(consume, referrals_topic("idva"))
    assert own.stdout.strip() == marker, own.stderr
    other = await asyncio.to_thread(consume, referrals_topic("school"))
    assert marker not in other.stdout
    assert other.stdout.strip() == ""


async def test_a_rotated_password_replaces_the_old_one(kafka_bootstrap: str) -> None:
    principal = "safeguarding-team"
    old = kafka_options(principal)
    marker = await put_marker(kafka_bootstrap, referrals_topic(principal))
    assert await reads(kafka_bootstrap, marker, old, wait=FOUND_WAIT)
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", str(ROOT / "deploy" / "kafka.sh"), "rotate", principal],
        env={**os.environ, "KAFKA_PORT": kafka_bootstrap.rpartition(":")[2]},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    new = kafka_options(principal)
    assert new["sasl_plain_password"] != old["sasl_plain_password"]
    # the broker applies the new credential as it commits it: retry until it is in force
    assert await eventually(lambda: reads(kafka_bootstrap, marker, new), timeout=60)
    assert not await reads(kafka_bootstrap, marker, old)


# -- records of processing (contract section 12) ------------------------------------------------
async def _end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **kafka_options(OPS))
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - no public refresh
            partitions = consumer.partitions_for_topic(topic) or set()
        found: dict[TopicPartition, int] = await consumer.end_offsets(
            [TopicPartition(topic, p) for p in partitions]
        )
        return found
    finally:
        await consumer.stop()


async def _values_between(
    bootstrap: str, since: dict[TopicPartition, int], marker: Marker, options: dict[str, Any]
) -> list[bytes]:
    """Every value on the marker's partition from `since` up to the marker, read with
    `options` (the records service's principal)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **options)
    tp = TopicPartition(marker.topic, marker.partition)
    values: list[bytes] = []
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, since[tp])
        async with asyncio.timeout(FOUND_WAIT):
            while marker.value not in values:
                batches = await consumer.getmany(tp, timeout_ms=300)
                values += [r.value for r in batches.get(tp, [])]
    finally:
        await consumer.stop()
    return values


async def test_only_notify_writes_notifys_log_topic(kafka_bootstrap: str) -> None:
    """Nobody holding another principal's password can put an entry in notify's log: not
    the console, not an agency, not another service, not the records service."""
    topic = audit_topic("notify")
    since = await _end_offsets(kafka_bootstrap, topic)
    forgers = ["console", "idva", "triage", "records", OPS]
    forged = {f: f"forged-read-by-{f}-{uuid.uuid4()}".encode() for f in forgers}
    written = await asyncio.gather(
        *(write(kafka_bootstrap, topic, kafka_options(f), forged[f]) for f in forgers)
    )
    assert dict(zip(forgers, written, strict=True)) == dict.fromkeys(forgers, False)
    # notify may, on the partition the forgeries would have gone to (the same key)
    marker = await put_marker(kafka_bootstrap, topic, "notify", key=b"victim-k")
    on_topic = await _values_between(kafka_bootstrap, since, marker, kafka_options("records"))
    assert marker.value in on_topic
    assert not set(forged.values()) & set(on_topic)


async def test_each_service_writes_its_own_log_topic_and_no_other(kafka_bootstrap: str) -> None:
    services = list(registry.NAMES)
    own = await asyncio.gather(
        *(write(kafka_bootstrap, audit_topic(s), kafka_options(s)) for s in services)
    )
    assert dict(zip(services, own, strict=True)) == dict.fromkeys(services, True)
    others = [(s, audit_topic(o)) for s in services for o in services if o != s][::5]
    theirs = await asyncio.gather(*(write(kafka_bootstrap, t, kafka_options(s)) for s, t in others))
    assert dict(zip(others, theirs, strict=True)) == dict.fromkeys(others, False)


async def test_records_reads_every_log_topic_but_writes_none_but_its_own(
    kafka_bootstrap: str,
) -> None:
    records = kafka_options("records")
    markers = [await put_marker(kafka_bootstrap, t) for t in AUDIT_TOPICS]
    seen = await asyncio.gather(
        *(reads(kafka_bootstrap, m, records, wait=FOUND_WAIT) for m in markers)
    )
    assert dict(zip(AUDIT_TOPICS, seen, strict=True)) == dict.fromkeys(AUDIT_TOPICS, True)
    group = f"mash-records-{uuid.uuid4().hex[:8]}"  # and with its own consumer group
    assert await reads(kafka_bootstrap, markers[0], records, group=group, wait=FOUND_WAIT)
    # the referral topics too, with the group that keeps each record as disclosed
    sent = await put_marker(kafka_bootstrap, referrals_topic("school"))
    disclosures = f"mash-records-disclosures-{uuid.uuid4().hex[:8]}"
    assert await reads(kafka_bootstrap, sent, records, group=disclosures, wait=FOUND_WAIT)
    assert not await write(kafka_bootstrap, referrals_topic("school"), records)
    assert not await write(kafka_bootstrap, audit_topic("notify"), records)
    assert await write(kafka_bootstrap, audit_topic("records"), records)
    # a topic with personal data it has no business reading
    incident = await put_marker(kafka_bootstrap, INCIDENTS)
    assert not await reads(kafka_bootstrap, incident, records)


async def committed(
    bootstrap: str, options: dict[str, Any], group: str
) -> dict[TopicPartition, int] | None:
    """The group's state and committed offsets as a client with `options` describes them;
    None when the broker refuses to describe the group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **options)
    try:
        async with asyncio.timeout(READ_WAIT * 2):
            await admin.start()
            described = await admin.describe_consumer_groups([group])
            if any(g[0] for response in described for g in response.groups):
                return None  # an error code for the group: refused
            offsets = await admin.list_consumer_group_offsets(group)
            return {tp: meta.offset for tp, meta in offsets.items()}
    except (KafkaError, TimeoutError):
        return None
    finally:
        await admin.close()


async def test_records_describes_an_agencys_group_and_sees_what_it_consumed(
    kafka_bootstrap: str,
) -> None:
    """What a partner consumes is logged from its group's committed offsets (section 12):
    the records principal may describe the agencies' groups, not the services'."""
    inbox = f"idva.inbox-{uuid.uuid4().hex[:8]}"
    marker = await put_marker(kafka_bootstrap, referrals_topic("idva"))
    assert await reads(kafka_bootstrap, marker, kafka_options("idva"), group=inbox, wait=FOUND_WAIT)
    offsets = await committed(kafka_bootstrap, kafka_options("records"), inbox)
    assert offsets is not None
    tp = TopicPartition(marker.topic, marker.partition)
    assert offsets[tp] > marker.offset  # committed past the marker: it was consumed
    # the same question from others, or about a group it has no business with
    assert await committed(kafka_bootstrap, kafka_options("school"), inbox) is None
    assert await committed(kafka_bootstrap, kafka_options("console"), inbox) is None
    service_group = f"mash-triage-{uuid.uuid4().hex[:8]}"
    triage_marker = await put_marker(kafka_bootstrap, INCIDENTS)
    assert await reads(
        kafka_bootstrap,
        triage_marker,
        kafka_options("triage"),
        group=service_group,
        wait=FOUND_WAIT,
    )
    assert await committed(kafka_bootstrap, kafka_options("records"), service_group) is None


async def test_log_topics_keep_their_entries_at_least_30_days(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, **kafka_options("admin"))
    await admin.start()
    try:
        asked = [ConfigResource(ConfigResourceType.TOPIC, t) for t in (*AUDIT_TOPICS, INCIDENTS)]
        responses = await admin.describe_configs(asked)
    finally:
        await admin.close()
    retention: dict[str, int] = {}
    for response in responses:
        for _code, _message, _type, topic, entries in response.resources:
            for name, value, *_ in entries:
                if name == "retention.ms":
                    retention[topic] = int(value)
    thirty_days = 30 * 24 * 60 * 60 * 1000
    assert {t: retention[t] >= thirty_days for t in AUDIT_TOPICS} == dict.fromkeys(
        AUDIT_TOPICS, True
    )
    assert retention[INCIDENTS] < thirty_days  # the broker's default (7 days) elsewhere
