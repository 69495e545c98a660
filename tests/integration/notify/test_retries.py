"""Issue 10, item 3: webhook retries span a day, so a partner down for an hour receives
every referral made meanwhile, once; dead, failed and cancelled deliveries can be queued
again (contract section 5, the two redeliver endpoints). The clock is moved, never waited."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from typing import Any

import pytest

from mash_tools.testing import TopicReader, bearer, data_of, eventually, headers_of, running
from notify.domain.delivery import DEFAULT_SCHEDULE
from shared.topics import REFERRAL_OUTCOMES
from tests.integration.notify.kit import (
    Clock,
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


async def _status(client: Any, agency: str, incident_id: str) -> str | None:
    found = await referrals_of(client, agency, incident_id)
    return found[0]["delivery"]["status"] if found else None


async def test_a_partner_down_for_an_hour_receives_every_referral_once(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    clock = Clock()
    down = True
    incidents = [str(uuid.uuid4()) for _ in range(3)]
    app = notify_app(
        kafka_bootstrap,
        database_url,
        group,
        clock=clock,
        delivery_retry_schedule=DEFAULT_SCHEDULE,  # the production schedule
    )
    async with (
        Receiver(answer=lambda _id, _n: 503 if down else 200) as idva,
        running(app) as client,
    ):
        await subscribe(client, "idva", idva.url)
        start = clock.now
        # the IDVA's system goes down; referrals keep coming during the hour
        for incident_id in incidents:
            await publish(kafka_bootstrap, builders.decision_data(incident_id, referrals=[IDVA]))
            await eventually(lambda: idva.of(incident_id))  # noqa: B023 - tried at once, failed
            clock.advance(minutes=20)
            await loops_passed(app, "idva")
        while clock.now - start < timedelta(hours=1):
            clock.advance(minutes=5)
            await loops_passed(app, "idva")
        assert all(r.status == 503 for i in incidents for r in idva.of(i))
        for incident_id in incidents:
            assert await _status(client, "idva", incident_id) == "failed"  # never dead

        down = False  # back after an hour
        for _ in range(60):  # at most ten hours of clock, in ten-minute steps
            states = [await _status(client, "idva", i) for i in incidents]
            if all(state == "delivered" for state in states):
                break
            clock.advance(minutes=10)
            await loops_passed(app, "idva")
        await loops_passed(app, "idva")  # room for a wrong extra POST to show
        records = [(await referrals_of(client, "idva", i))[0] for i in incidents]

    for incident_id, record in zip(incidents, records, strict=True):
        assert record["delivery"]["status"] == "delivered"
        answers = [r.status for r in idva.of(incident_id)]
        assert answers.count(200) == 1  # received once
        assert answers[-1] == 200
        assert all(r.headers["ce-id"] == record["referral_id"] for r in idva.of(incident_id))


async def test_a_redelivery_keeps_its_own_webhook_unless_told_current(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    """Contract section 5: after a PUT of a new URL, a redelivery goes to the URL (and
    secret) the delivery was made under; `"to": "current"` sends it to the new one."""
    data = builders.decision_data(referrals=[VICTIM_SUPPORT])
    incident_id = data["incident_id"]
    app = notify_app(kafka_bootstrap, database_url, group)
    write = bearer("subscriptions:write:victim-support")
    async with (
        Receiver(answer=lambda _id, _n: 410) as gone,
        Receiver() as fixed,
        TopicReader(kafka_bootstrap, REFERRAL_OUTCOMES) as outcomes,
        running(app) as client,
    ):
        await subscribe(client, "victim-support", gone.url)
        await publish(kafka_bootstrap, data)
        await eventually(lambda: _status(client, "victim-support", incident_id), timeout=30)
        (record,) = await referrals_of(client, "victim-support", incident_id)
        referral_id = record["referral_id"]

        async def dead() -> bool:
            return await _status(client, "victim-support", incident_id) == "dead"

        await eventually(dead)
        await subscribe(client, "victim-support", fixed.url)  # the agency moved its end
        other_agency = await client.post(
            f"/v1/referrals/{referral_id}/redeliver",
            json={"to": "current"},
            headers=bearer("subscriptions:write:idva"),
        )
        own = await client.post(f"/v1/referrals/{referral_id}/redeliver", headers=write)
        assert own.status_code == 202, own.text
        await eventually(lambda: len(gone.of(incident_id)) == 2)
        await eventually(dead)
        answer = await client.post(
            f"/v1/referrals/{referral_id}/redeliver", json={"to": "current"}, headers=write
        )
        assert answer.status_code == 202, answer.text

        async def delivered() -> bool:
            return await _status(client, "victim-support", incident_id) == "delivered"

        await eventually(delivered)
        again = await client.post(f"/v1/referrals/{referral_id}/redeliver", headers=write)
        unknown = await client.post(f"/v1/referrals/{uuid.uuid4()}/redeliver", headers=write)
        wrong_scope = await client.post(
            f"/v1/referrals/{referral_id}/redeliver", headers=bearer("referrals:read:*")
        )
        bad_target = await client.post(
            f"/v1/referrals/{referral_id}/redeliver", json={"to": "elsewhere"}, headers=write
        )
        was_dead = await outcomes.wait_for(
            lambda r: (
                headers_of(r)["ce_type"] == "mash.referral.dead"
                and data_of(r)["referral_id"] == referral_id
            )
        )
        was_delivered = await outcomes.wait_for(
            lambda r: (
                headers_of(r)["ce_type"] == "mash.referral.delivered"
                and data_of(r)["referral_id"] == referral_id
            )
        )
        rows = await attempt_rows(app, referral_id)

    assert (again.status_code, unknown.status_code, wrong_scope.status_code) == (409, 404, 403)
    assert (other_agency.status_code, bad_target.status_code) == (403, 422)
    assert again.headers["content-type"] == "application/problem+json"
    assert [r.status for r in gone.of(incident_id)] == [410, 410]  # its own URL, twice
    assert [r.status for r in fixed.of(incident_id)] == [200]  # the current one, when asked
    assert [r.verdict for r in rows] == ["dead", "dead", "delivered"]
    assert set(data_of(was_dead)) == {
        "referral_id",
        "agency",
        "incident_id",
        "at",
        "due_by",
        "attempts",
    }
    assert data_of(was_delivered)["attempts"] == 3
    assert "data" not in data_of(was_delivered)  # ids and times, never the referral


async def test_redeliver_since_queues_every_dead_delivery_made_since_then(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    first, second = (builders.decision_data(referrals=[CSC]) for _ in range(2))
    app = notify_app(kafka_bootstrap, database_url, group)
    write = bearer("subscriptions:write:childrens-social-care")
    async with (
        Receiver(answer=lambda _id, _n: 404) as broken,
        Receiver() as fixed,
        running(app) as client,
    ):
        await subscribe(client, "childrens-social-care", broken.url)
        for data in (first, second):
            await publish(kafka_bootstrap, data)
        (made,) = await eventually(
            lambda: referrals_of(client, "childrens-social-care", first["incident_id"])
        )

        async def both_dead() -> bool:
            states = [
                await _status(client, "childrens-social-care", d["incident_id"])
                for d in (first, second)
            ]
            return states == ["dead", "dead"]

        await eventually(both_dead)
        await subscribe(client, "childrens-social-care", fixed.url)
        since = made["created_at"]
        own = await client.post(
            "/v1/subscriptions/childrens-social-care/redeliver",
            json={"since": since},
            headers=write,
        )
        await eventually(
            lambda: all(len(broken.of(d["incident_id"])) == 2 for d in (first, second))
        )
        await eventually(both_dead)
        answer = await client.post(
            "/v1/subscriptions/childrens-social-care/redeliver",
            json={"since": since, "to": "current"},
            headers=write,
        )
        bad = await client.post(
            "/v1/subscriptions/childrens-social-care/redeliver",
            json={"since": "yesterday"},
            headers=write,
        )

        async def both_delivered() -> bool:
            states = [
                await _status(client, "childrens-social-care", d["incident_id"])
                for d in (first, second)
            ]
            return states == ["delivered", "delivered"]

        await eventually(both_delivered)
        later = await client.post(
            "/v1/subscriptions/childrens-social-care/redeliver",
            json={"since": since},
            headers=write,
        )

    assert own.json() == {"queued": 2}  # each to its own URL: the broken one again
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"queued": 2}
    assert bad.status_code == 422
    assert later.json() == {"queued": 0}  # nothing dead any more
    for data in (first, second):
        assert [r.status for r in broken.of(data["incident_id"])] == [404, 404]
        assert [r.status for r in fixed.of(data["incident_id"])] == [200]


async def test_a_refused_connection_is_retried_not_given_up(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[SAFEGUARDING])
    incident_id = data["incident_id"]
    with socket.socket() as closed:  # a loopback port that nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app = notify_app(kafka_bootstrap, sqlite_url, group, delivery_retry_schedule=DEFAULT_SCHEDULE)
    async with running(app) as client:
        await subscribe(client, "safeguarding-team", f"http://127.0.0.1:{port}/hook")
        await publish(kafka_bootstrap, data)

        async def failed() -> bool:
            return await _status(client, "safeguarding-team", incident_id) == "failed"

        await eventually(failed)
        (record,) = await referrals_of(client, "safeguarding-team", incident_id)
        rows = await attempt_rows(app, record["referral_id"])
    assert rows[0].verdict == "retry"
    assert rows[0].error == "ConnectError"
