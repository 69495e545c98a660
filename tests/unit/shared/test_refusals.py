"""Which publishing failures are an outbox row's own fault (dead-lettered) and which are an
outage (retried): an outage must never cost a row, nor a bad row stop the relay."""

from __future__ import annotations

import json

import pytest
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    CorruptRecordException,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    MessageSizeTooLargeError,
    NotEnoughReplicasError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    RecordListTooLargeError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
    UnknownError,
    UnknownTopicOrPartitionError,
)

from shared.erasure import resource_of
from shared.refusals import carries_payload, dead_letter_headers, stub, verdict
from shared.topics import DECISIONS, INCIDENTS, MARAC, audit_topic, referrals_topic


@pytest.mark.parametrize(
    "error",
    [
        KafkaConnectionError(),
        KafkaTimeoutError(),
        RequestTimedOutError(),
        NotLeaderForPartitionError(),
        LeaderNotAvailableError(),
        NotEnoughReplicasError(),
        UnknownTopicOrPartitionError(),
        TopicAuthorizationFailedError(),
        ClusterAuthorizationFailedError(),
        OutOfOrderSequenceNumber(),
        ProducerClosed(),
        KafkaError("anything else"),
        TimeoutError(),
        ConnectionRefusedError(),
        RuntimeError("a bug of ours"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_outage_or_an_unknown_failure_is_retried_never_dead_lettered(error: Exception) -> None:
    assert verdict(error) == "outage"


@pytest.mark.parametrize(
    "error",
    [
        MessageSizeTooLargeError(),
        RecordListTooLargeError(),
        CorruptRecordException(),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogate"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_record_refused_for_its_own_sake_is_dead_lettered(error: Exception) -> None:
    assert verdict(error) == "refused"


def test_an_unknown_broker_error_code_is_tried_alone_before_it_is_judged() -> None:
    # INVALID_RECORD (87) reaches us as UnknownError, as does a broker's own fault
    assert verdict(UnknownError()) == "suspect"


def test_a_dead_letter_names_the_error_and_origin_and_keeps_the_headers() -> None:
    headers = dead_letter_headers(
        {"ce_id": "e1", "mash_dlq_error": "stale"},
        MessageSizeTooLargeError("The message is 1200000 bytes"),
        INCIDENTS,
        "e1",
        "intake",
    )
    assert headers["ce_id"] == "e1"
    assert headers["mash_dlq_error"] == "MessageSizeTooLargeError"  # never the values
    assert headers["mash_dlq_origin_topic"] == INCIDENTS
    assert headers["mash_dlq_origin_event_id"] == "e1"
    assert headers["mash_dlq_relay"] == "intake"


def test_a_payload_too_large_travels_as_a_stub_without_data() -> None:
    assert not carries_payload(MessageSizeTooLargeError())
    assert carries_payload(CorruptRecordException())
    placeholder = json.loads(stub(INCIDENTS, "e1", 2_000_000, MessageSizeTooLargeError()))
    assert placeholder == {
        "dead_letter": "payload not carried",
        "reason": "MessageSizeTooLargeError",
        "origin_topic": INCIDENTS,
        "event_id": "e1",
        "payload_chars": 2_000_000,
    }


@pytest.mark.parametrize(
    ("topic", "type_", "resource"),
    [
        (INCIDENTS, "mash.incident.reported", "incident"),
        (INCIDENTS, "mash.risk_assessment.submitted", "risk_assessment"),
        (DECISIONS, "mash.triage.decided", "decision"),
        (referrals_topic("idva"), "mash.referral.created", "referral"),
        (MARAC, "mash.marac.case_listed", "marac_case"),
        (MARAC, "mash.marac.referral_received", "marac_referral"),
        (MARAC, "mash.marac.action_agreed", "action"),
        ("mash.escalations.v1", "mash.marac.action_overdue", "action"),
        ("mash.perpetrators.v1", "mash.perpetrator.prioritised", "perpetrator"),
        (audit_topic("notify"), "mash.audit.consulted", None),
    ],
)
def test_each_purged_event_is_logged_as_the_record_it_carries(
    topic: str, type_: str, resource: str | None
) -> None:
    assert resource_of(topic, type_) == resource
