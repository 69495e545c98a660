"""Deliveries survive a notify restart without a duplicate success, and an agency whose
endpoint hangs holds up no other agency."""

from __future__ import annotations

from typing import Any

import pytest

from mash_tools.testing import eventually, running
from notify import handlers
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

CSC, _, _, IDVA, SAFEGUARDING, _ = builders.ALL_REFERRALS


async def status_of(client: Any, agency: str, incident_id: str) -> dict[str, Any] | None:
    found = await referrals_of(client, agency, incident_id)
    return found[0] if found else None


async def test_stopped_mid_retry_resumes_after_restart_without_a_duplicate_success(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[CSC, IDVA])
    incident_id = data["incident_id"]
    outage = True  # the IDVA service answers 503 until it recovers, after the restart
    # long enough waits that notify is stopped while the IDVA delivery waits to retry
    slow: dict[str, Any] = {"delivery_retry_schedule": (1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0)}
    async with (
        Receiver() as social_care,
        Receiver(answer=lambda _id, _n: 503 if outage else 200, incident_id=incident_id) as idva,
    ):
        first = notify_app(kafka_bootstrap, database_url, group, **slow)
        async with running(first) as client:
            await subscribe(client, "childrens-social-care", social_care.url)
            await subscribe(client, "idva", idva.url)
            await publish(kafka_bootstrap, data)

            async def waiting_to_retry() -> bool:
                found = await status_of(client, "idva", incident_id)
                return bool(found and found["delivery"]["status"] == "failed")

            await eventually(waiting_to_retry)
            await eventually(lambda: status_of(client, "childrens-social-care", incident_id))
            csc = await eventually(lambda: _delivered(client, "childrens-social-care", incident_id))
        # notify is down; its IDVA delivery is part-way through its retries
        assert all(r.status == 503 for r in idva.of(incident_id))
        tried_before = len(idva.of(incident_id))
        outage = False

        second = notify_app(kafka_bootstrap, database_url, group)  # same database
        async with running(second) as client:
            record = await eventually(lambda: _delivered(client, "idva", incident_id))
            # room for a wrong extra send to show, on either agency
            await loops_passed(second, "idva", "childrens-social-care")
            rows = await attempt_rows(second, record["referral_id"])
            (csc_after,) = await referrals_of(client, "childrens-social-care", incident_id)

    assert [r.status for r in idva.of(incident_id)] == [503] * tried_before + [200]
    assert [r.verdict for r in rows] == ["retry"] * tried_before + ["delivered"]
    assert record["delivery"]["attempts"] == tried_before + 1
    # the one delivered before the restart was not sent again
    assert [r.status for r in social_care.of(incident_id)] == [200]
    assert csc_after["delivery"] == csc["delivery"]


async def _delivered(client: Any, agency: str, incident_id: str) -> dict[str, Any] | None:
    found = await status_of(client, agency, incident_id)
    return found if found and found["delivery"]["status"] == "delivered" else None


async def test_an_agency_whose_endpoint_hangs_does_not_delay_another(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[IDVA, SAFEGUARDING])
    incident_id = data["incident_id"]
    # a timeout longer than the test waits: were deliveries one queue, the team would wait
    app = notify_app(kafka_bootstrap, sqlite_url, group, delivery_timeout_seconds=120)
    async with (
        Receiver(answer=lambda _id, _n: None, incident_id=incident_id) as hanging,
        Receiver() as team,
        running(app) as client,
    ):
        await subscribe(client, "idva", hanging.url)
        await subscribe(client, "safeguarding-team", team.url)
        await publish(kafka_bootstrap, data)
        await eventually(lambda: hanging.hanging(incident_id))  # the IDVA's POST is stuck

        await eventually(lambda: _delivered(client, "safeguarding-team", incident_id))
        assert len(hanging.hanging(incident_id)) == 1  # still stuck meanwhile
        idva = await status_of(client, "idva", incident_id)
        assert idva is not None
        assert idva["delivery"]["status"] == "pending"

        hanging.release.set()  # the IDVA's system answers at last
        await eventually(lambda: _delivered(client, "idva", incident_id))
    assert [r.status for r in team.of(incident_id)] == [200]


async def test_stopped_mid_attempt_is_tried_again_at_once_after_restart(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[IDVA])
    incident_id = data["incident_id"]
    hang = True
    # the lease (timeout + 5 s) outlasts `eventually`: only a released lease passes
    slow: dict[str, Any] = {"delivery_timeout_seconds": 30}
    async with Receiver(
        answer=lambda _id, _n: None if hang else 200, incident_id=incident_id
    ) as idva:
        async with running(notify_app(kafka_bootstrap, sqlite_url, group, **slow)) as client:
            await subscribe(client, "idva", idva.url)
            await publish(kafka_bootstrap, data)
            await eventually(lambda: idva.hanging(incident_id))
        hang = False  # stopped while its POST hung; the IDVA's system is back

        second = notify_app(kafka_bootstrap, sqlite_url, group, **slow)
        async with running(second) as client:
            record = await eventually(lambda: _delivered(client, "idva", incident_id))
            rows = await attempt_rows(second, record["referral_id"])

    # the cut-off attempt had no answer: recorded as such (the receiver may have had it)
    assert [r.verdict for r in rows] == ["unknown", "delivered"]
    assert [r.status for r in idva.of(incident_id)][-1] == 200
    assert len([r for r in idva.of(incident_id) if r.status == 200]) == 1


async def test_killed_between_a_2xx_and_recording_it_repeats_the_post_and_says_so(
    kafka_bootstrap: str, database_url: str, group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10, item 6: the attempt is recorded in flight before the POST, so when notify
    dies between a 2xx and recording it, the ledger shows an attempt of unknown outcome,
    and the POST is repeated with the same ce-id (receivers dedupe on it)."""
    data = builders.decision_data(referrals=[IDVA])
    incident_id = data["incident_id"]
    clock = Clock()

    async def killed(*_: object) -> None:
        raise RuntimeError("notify killed before recording the answer")

    async with Receiver() as idva:
        first = notify_app(kafka_bootstrap, database_url, group, clock=clock)
        with monkeypatch.context() as patch:
            patch.setattr(handlers, "record_attempt", killed)
            async with running(first) as client:
                await subscribe(client, "idva", idva.url)
                await publish(kafka_bootstrap, data)
                await eventually(lambda: idva.of(incident_id))  # the POST got its 200
                await loops_passed(first, "idva")
                (mid,) = await referrals_of(client, "idva", incident_id)
                in_flight = await attempt_rows(first, mid["referral_id"])

        clock.advance(minutes=1)  # the dead process's lease runs out
        second = notify_app(kafka_bootstrap, database_url, group, clock=clock)
        async with running(second) as client:
            record = await eventually(lambda: _delivered(client, "idva", incident_id))
            await loops_passed(second, "idva")
            rows = await attempt_rows(second, record["referral_id"])

    assert [r.verdict for r in in_flight] == ["in_flight"]  # committed before the POST
    assert mid["delivery"]["status"] == "pending"
    assert [r.verdict for r in rows] == ["unknown", "delivered"]
    requests = idva.of(incident_id)
    assert [r.status for r in requests] == [200, 200]  # the one repeat a crash allows
    assert {r.headers["ce-id"] for r in requests} == {record["referral_id"]}
    assert record["delivery"]["attempts"] == 2
