"""Webhook delivery against a real HTTP receiver on 127.0.0.1: signed, retried, dead-lettered,
resumed after a restart, and one agency's hanging endpoint holding up no other."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from mash_tools.testing import TopicReader, eventually, headers_of, running
from notify import store
from shared.topics import DEADLETTER
from tests.integration.notify.kit import (
    Receiver,
    attempt_rows,
    loops_passed,
    notify_app,
    publish,
    referrals_of,
    subscribe,
)
from tests.unit.notify import builders

pytestmark = pytest.mark.kafka

CSC, _, _, IDVA, SAFEGUARDING, VICTIM_SUPPORT = builders.ALL_REFERRALS


async def delivered(client: Any, agency: str, incident_id: str) -> dict[str, Any] | None:
    found = await referrals_of(client, agency, incident_id)
    return found[0] if found and found[0]["delivery"]["status"] == "delivered" else None


async def test_a_delivery_is_signed_cloudevent_with_the_record_as_body(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[IDVA])
    incident_id = data["incident_id"]
    app = notify_app(kafka_bootstrap, sqlite_url, group)
    async with Receiver() as receiver, running(app) as c:
        await subscribe(c, "idva", receiver.url, secret="idva-secret")
        await publish(kafka_bootstrap, data)
        record = await eventually(lambda: delivered(c, "idva", incident_id))
        async with app.state.platform.sessions() as session:
            stored = (await session.execute(select(store.subscriptions.c.secret))).scalars().all()
    assert stored
    assert all("idva-secret" not in value for value in stored)  # sealed at rest

    (request,) = receiver.of(incident_id)
    expected = hmac.new(b"idva-secret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-mash-signature"] == f"sha256={expected}"
    assert request.headers["ce-specversion"] == "1.0"
    assert request.headers["ce-id"] == record["referral_id"]
    assert request.headers["ce-type"] == "mash.referral.created"
    assert request.headers["ce-source"] == "/mash/notify"
    assert request.headers["content-type"] == "application/json"
    assert "traceparent" in request.headers
    body = json.loads(request.body)
    assert body["referral_id"] == record["referral_id"]
    assert body["data"] == record["data"]
    assert "notes" not in body["data"]  # minimised for the IDVA, as on its topic
    assert record["delivery"] == {"status": "delivered", "attempts": 1, "channel": "webhook"}


async def test_503_twice_then_200_is_one_success_after_three_attempts(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[CSC])
    incident_id = data["incident_id"]
    app = notify_app(kafka_bootstrap, database_url, group)
    async with (
        Receiver(answer=lambda _id, n: 503 if n <= 2 else 200, incident_id=incident_id) as receiver,
        running(app) as client,
    ):
        await subscribe(client, "childrens-social-care", receiver.url)
        await publish(kafka_bootstrap, data)
        record = await eventually(lambda: delivered(client, "childrens-social-care", incident_id))
        await loops_passed(app, "childrens-social-care")  # room for a wrong extra send
        rows = await attempt_rows(app, record["referral_id"])
        (after,) = await referrals_of(client, "childrens-social-care", incident_id)

    assert [r.status for r in receiver.of(incident_id)] == [503, 503, 200]
    assert len({r.headers["ce-id"] for r in receiver.of(incident_id)}) == 1
    assert [(r.attempt, r.verdict, r.http_status) for r in rows] == [
        (1, "retry", 503),
        (2, "retry", 503),
        (3, "delivered", 200),
    ]
    assert after["delivery"] == {"status": "delivered", "attempts": 3, "channel": "webhook"}


def dead_letter_of(referral_id: str) -> Any:
    return lambda record: headers_of(record).get("mash_dlq_referral_id") == referral_id


async def test_a_400_is_dead_at_once_and_on_the_dead_letter_topic(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[VICTIM_SUPPORT])
    incident_id = data["incident_id"]
    app = notify_app(kafka_bootstrap, sqlite_url, group)
    async with (
        Receiver(answer=lambda _id, _n: 400, incident_id=incident_id) as receiver,
        TopicReader(kafka_bootstrap, DEADLETTER) as dead_letters,
        running(app) as client,
    ):
        await subscribe(client, "victim-support", receiver.url)
        await publish(kafka_bootstrap, data)

        async def dead() -> dict[str, Any] | None:
            found = await referrals_of(client, "victim-support", incident_id)
            return found[0] if found and found[0]["delivery"]["status"] == "dead" else None

        record = await eventually(dead)
        letter = await dead_letters.wait_for(dead_letter_of(record["referral_id"]))
        await loops_passed(app, "victim-support")  # room for a wrong retry to show

    assert [r.status for r in receiver.of(incident_id)] == [400]
    assert record["delivery"]["attempts"] == 1
    headers = headers_of(letter)
    assert headers["ce_type"] == "mash.referral.created"
    assert headers["mash_dlq_error"] == "webhook refused: HTTP 400"
    assert headers["mash_dlq_origin_topic"] == "mash.referrals.victim-support.v1"
    assert json.loads(letter.value)["referral_id"] == record["referral_id"]


async def test_retries_exhausted_make_it_dead_and_dead_lettered(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[IDVA])
    incident_id = data["incident_id"]
    app = notify_app(kafka_bootstrap, sqlite_url, group)
    async with (
        Receiver(answer=lambda _id, _n: 503, incident_id=incident_id) as receiver,
        TopicReader(kafka_bootstrap, DEADLETTER) as dead_letters,
        running(app) as client,
    ):
        await subscribe(client, "idva", receiver.url)
        await publish(kafka_bootstrap, data)
        (record,) = await eventually(lambda: referrals_of(client, "idva", incident_id))
        letter = await dead_letters.wait_for(dead_letter_of(record["referral_id"]))
        (record,) = await referrals_of(client, "idva", incident_id)

    assert len(receiver.of(incident_id)) == 5
    assert record["delivery"]["status"] == "dead"
    assert record["delivery"]["attempts"] == 5
    assert headers_of(letter)["mash_dlq_error"] == "webhook exhausted 5 attempts: HTTP 503"


async def test_a_refused_connection_is_retried(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[IDVA])
    incident_id = data["incident_id"]
    async with Receiver() as closed:
        url = closed.url  # nobody listens here once it is closed
    app = notify_app(kafka_bootstrap, sqlite_url, group)
    async with running(app) as client:
        await subscribe(client, "idva", url)
        await publish(kafka_bootstrap, data)

        async def retried() -> list[Any] | None:
            found = await referrals_of(client, "idva", incident_id)
            rows = await attempt_rows(app, found[0]["referral_id"]) if found else []
            return rows if len(rows) >= 2 else None

        rows = await eventually(retried)
    assert rows[0].verdict == "retry"
    assert rows[0].error == "ConnectError"


async def test_school_notices_are_held_until_the_school_day_and_late_ones_go_at_once(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    school = builders.ALL_REFERRALS[1]
    # released at the bell itself: an incident reported now is always held until then
    fresh = builders.decision_data(
        referrals=[IDVA, school], reported_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    old = builders.decision_data(referrals=[school])  # the school day after it has begun
    app = notify_app(kafka_bootstrap, sqlite_url, group, school_release_time=time(8, 30))
    async with Receiver() as receiver, running(app) as client:
        await subscribe(client, "idva", receiver.url)
        await subscribe(client, "school", receiver.url)
        await publish(kafka_bootstrap, fresh)
        await publish(kafka_bootstrap, old)
        await eventually(lambda: delivered(client, "school", old["incident_id"]))
        await eventually(lambda: delivered(client, "idva", fresh["incident_id"]))
        (held,) = await referrals_of(client, "school", fresh["incident_id"])

    assert held["delivery"]["status"] == "pending"
    assert held["delivery"]["attempts"] == 0
    assert datetime.fromisoformat(held["delivery"]["deliver_after"]) > datetime.now(UTC)
    assert receiver.of(fresh["incident_id"])[0].headers["ce-id"] != held["referral_id"]
    assert len(receiver.of(fresh["incident_id"])) == 1


async def test_a_decision_that_is_not_valid_is_dead_lettered_and_the_next_one_goes_on(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    bad = builders.decision_data()
    bad["risk_level"] = "extreme"
    good = builders.decision_data(referrals=[IDVA])
    async with (
        TopicReader(kafka_bootstrap, DEADLETTER) as dead_letters,
        running(notify_app(kafka_bootstrap, sqlite_url, group)) as client,
    ):
        bad_id = await publish(kafka_bootstrap, bad)
        await publish(kafka_bootstrap, good)
        letter = await dead_letters.wait_for(
            lambda r: (
                headers_of(r).get("ce_id") == bad_id
                and headers_of(r).get("mash_dlq_origin_topic") == "mash.triage.decisions.v1"
            )
        )
        await eventually(lambda: referrals_of(client, "idva", good["incident_id"]))
        assert await referrals_of(client, "idva", bad["incident_id"]) == []
    assert "risk_level" in headers_of(letter)["mash_dlq_error"]
