"""The shared platform's pure parts: envelope, identity, settings guard, errors, tokens."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from mash_tools.cli import parse_ttl
from mash_tools.testing import TEST_KEY, hub_settings, key_environment
from shared import envelope
from shared.auth import mint, trust, verify
from shared.config import DEVELOPMENT_SECRET, HubSettings
from shared.envelope import CloudEvent, EnvelopeError
from shared.kafka import describe
from shared.schemas import Person


def test_a_cloudevent_survives_the_kafka_binary_mode_round_trip() -> None:
    event = CloudEvent(
        id="e1",
        source="/mash/test",
        type="mash.test",
        subject="s1",
        data={"a": [1, 2]},
        time=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
        trace_headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"},
    )
    headers = event.headers()
    names = [k for k, _ in headers]
    assert names[:7] == [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "content-type",
    ]
    assert dict(headers)["ce_time"] == b"2026-11-21T09:30:00Z"
    back = envelope.parse(headers, event.value())
    assert back == event


@pytest.mark.parametrize(
    ("headers", "value", "why"),
    [
        ([], b"{}", "not a CloudEvents"),
        ([("ce_specversion", b"0.3")], b"{}", "not a CloudEvents"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"x")], b"{}", "missing"),
        (None, None, "not a CloudEvents"),
    ],
)
def test_messages_that_are_not_our_cloudevents_are_refused(headers, value, why) -> None:
    with pytest.raises(EnvelopeError, match=why):
        envelope.parse(headers, value)


@pytest.mark.parametrize("value", [b"not json", b"[1]", b"\xff\xfe", b""])
def test_undecodable_data_is_refused(value: bytes) -> None:
    ok = CloudEvent(id="e", source="s", type="t", subject="x", data={}).headers()
    with pytest.raises(EnvelopeError):
        envelope.parse(ok, value)


def test_default_secrets_are_refused_outside_development() -> None:
    HubSettings(env="development", pseudonym_key=DEVELOPMENT_SECRET)
    with pytest.raises(ValidationError, match="MASH_JWKS_URL"):
        HubSettings(env="production", pseudonym_key="x" * 40)
    HubSettings(env="production", pseudonym_key="x" * 40, jwks_url="https://idp.example/k")
    with pytest.raises(ValidationError, match="MASH_PSEUDONYM_KEY"):
        HubSettings(env="test", pseudonym_key=DEVELOPMENT_SECRET)


def test_error_descriptions_never_carry_the_offending_values() -> None:
    try:
        Person.model_validate(
            {"given_name": "Secretname", "family_name": 5, "date_of_birth": "Secretdate"}
        )
    except ValidationError as exc:
        text = describe(exc)
    assert "family_name" in text
    assert "date_of_birth" in text
    assert "Secret" not in text
    assert describe(RuntimeError("victim Secretname")) == "RuntimeError"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("24h", 86400), ("7d", 604800)]
)
def test_token_lifetimes_read_as_people_write_them(text: str, seconds: int) -> None:
    assert parse_ttl(text) == timedelta(seconds=seconds)


def test_tokens_carry_their_scopes_and_expire() -> None:
    keys = trust(hub_settings("127.0.0.1:1"))
    token = mint(
        TEST_KEY,
        "idva-service",
        ["referrals:read:idva", "referrals:ack:idva"],
        timedelta(minutes=5),
    )
    principal = verify(keys, token, "notify")
    assert principal.subject == "idva-service"
    assert principal.may("referrals:read:idva")
    assert not principal.may("referrals:read:school")
    expired = mint(
        TEST_KEY, "x", [], timedelta(minutes=5), now=datetime.now(UTC) - timedelta(hours=1)
    )
    with pytest.raises(PermissionError):
        verify(keys, expired, "notify")
    with pytest.raises(PermissionError):
        verify(trust(HubSettings(jwks_file=Path("/nonexistent"))), token, "notify")


def test_mash_token_prints_one_token_and_nothing_else(tmp_path: Path) -> None:
    env = {**key_environment(), "PATH": "/usr/bin:/bin", "MASH_HOME": str(tmp_path)}
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "mash"),
            "token",
            "--sub",
            "ops",
            "--scope",
            "triage:read marac:read",
            "--ttl",
            "2h",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.count("\n") == 1
    keys = trust(hub_settings("127.0.0.1:1"))
    principal = verify(keys, out.strip(), "triage")
    assert principal.scopes == {"triage:read", "marac:read"}
    assert verify(keys, out.strip(), "marac") == principal
    with pytest.raises(PermissionError):  # for the services of its scopes only
        verify(keys, out.strip(), "notify")


@pytest.mark.parametrize(
    ("attribute", "limit"),
    [("ce_id", 64), ("ce_subject", 64), ("ce_type", 100), ("ce_source", 200)],
)
def test_attributes_too_long_for_the_inbox_are_refused_not_stored(
    attribute: str, limit: int
) -> None:
    ok = dict(CloudEvent(id="e", source="s", type="t", subject="x", data={}).headers())
    envelope.parse(list({**ok, attribute: b"x" * limit}.items()), b"{}")
    with pytest.raises(EnvelopeError, match="too long"):
        envelope.parse(list({**ok, attribute: b"x" * (limit + 1)}.items()), b"{}")


def test_outages_are_retried_forever_but_data_errors_are_the_messages_fault() -> None:
    from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

    from shared.kafka import is_transient

    assert is_transient(OperationalError("x", {}, Exception("database is locked")))
    assert is_transient(InterfaceError("x", {}, Exception("connection closed")))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    assert not is_transient(DataError("x", {}, Exception("value too long")))
    assert not is_transient(IntegrityError("x", {}, Exception("duplicate")))
    assert not is_transient(ValueError("a handler bug"))
    assert not is_transient(KeyError("missing"))


def test_a_deadlock_or_serialization_failure_is_retried_like_an_outage() -> None:
    from sqlalchemy.exc import DBAPIError

    from shared.kafka import is_transient

    class Refused(Exception):
        def __init__(self, sqlstate: str) -> None:
            super().__init__("the database gave this transaction up")
            self.sqlstate = sqlstate

    assert is_transient(DBAPIError("x", {}, Refused("40P01")))  # deadlock detected
    assert is_transient(DBAPIError("x", {}, Refused("40001")))  # serialization failure
    assert not is_transient(DBAPIError("x", {}, Refused("22001")))  # a value too long
