"""Acknowledgement clocks through the real broker (domain.md "Clocks", contract sections
5 and 7): `due_by` on every referral, an acknowledgement stops the clock (and is published
for the console), an unacknowledged referral past due is escalated once on
`mash.escalations.v1`, across restarts. The clock is moved, never waited for."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from mash_tools.testing import TopicReader, bearer, data_of, eventually, headers_of, running
from notify import store
from shared.topics import ESCALATIONS, REFERRAL_OUTCOMES
from tests.integration.notify.kit import (
    Clock,
    clock_passed,
    notify_app,
    publish,
    referrals_of,
)
from tests.unit.notify import builders

pytestmark = pytest.mark.kafka

CSC, _, _, IDVA, SAFEGUARDING, _ = builders.ALL_REFERRALS


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_an_unacknowledged_referral_is_escalated_once_across_restarts(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[IDVA, SAFEGUARDING], risk_level="high")
    incident_id = data["incident_id"]
    clock = Clock()
    async with (
        TopicReader(kafka_bootstrap, ESCALATIONS) as escalations,
        TopicReader(kafka_bootstrap, REFERRAL_OUTCOMES) as outcomes,
    ):
        first = notify_app(kafka_bootstrap, database_url, group, clock=clock)
        async with running(first) as client:
            await publish(kafka_bootstrap, data)
            (idva,) = await eventually(lambda: referrals_of(client, "idva", incident_id))
            (team,) = await eventually(
                lambda: referrals_of(client, "safeguarding-team", incident_id)
            )
            acked = await client.post(
                f"/v1/referrals/{team['referral_id']}/ack",
                headers=bearer("referrals:ack:safeguarding-team"),
            )
            await clock_passed(first)
        # notify is down when the IDVA's day runs out; the clock is in the database
        clock.advance(hours=25)
        second = notify_app(kafka_bootstrap, database_url, group, clock=clock)
        async with running(second) as client:
            letter = await escalations.wait_for(
                lambda r: data_of(r)["referral_id"] == idva["referral_id"]
            )
            told = await outcomes.wait_for(
                lambda r: (
                    data_of(r)["referral_id"] == idva["referral_id"]
                    and headers_of(r)["ce_type"] == "mash.referral.overdue"
                )
            )
            (idva_now,) = await referrals_of(client, "idva", incident_id)
            (team_now,) = await referrals_of(client, "safeguarding-team", incident_id)
        clock.advance(hours=25)
        third = notify_app(kafka_bootstrap, database_url, group, clock=clock)
        async with running(third):
            await clock_passed(third)
            async with third.state.platform.sessions() as session:
                outbox = third.state.platform.tables.outbox
                staged = (
                    await session.execute(
                        select(func.count())
                        .select_from(outbox)
                        .where(outbox.c.topic == ESCALATIONS)
                    )
                ).scalar_one()
                told_staged = (
                    await session.execute(
                        select(func.count())
                        .select_from(outbox)
                        .where(outbox.c.topic == REFERRAL_OUTCOMES)
                    )
                ).scalar_one()
                overdue_since = (
                    await session.execute(
                        select(store.referrals.c.overdue_since).where(
                            store.referrals.c.referral_id == idva["referral_id"]
                        )
                    )
                ).scalar_one()

    assert acked.status_code == 204
    assert _when(idva["due_by"]) - _when(idva["created_at"]) == timedelta(hours=24)
    assert idva["overdue"] is False
    assert idva["acknowledged_at"] is None
    headers = headers_of(letter)
    assert headers["ce_type"] == "mash.referral.overdue"
    assert headers["ce_subject"] == incident_id
    assert data_of(letter) == {
        "referral_id": idva["referral_id"],
        "agency": "idva",
        "incident_id": incident_id,
        "reason": "high_risk",
        "due_by": data_of(letter)["due_by"],
        "overdue_since": data_of(letter)["due_by"],
    }
    assert _when(data_of(letter)["due_by"]) == _when(idva["due_by"])
    assert idva_now["overdue"] is True
    assert team_now["overdue"] is False  # acknowledged in time: never escalated
    assert team_now["acknowledged_at"] is not None
    assert staged == 1  # once, whatever the restarts
    assert overdue_since is not None
    # the same fact for read models that may not read the escalations (the console)
    assert data_of(told) == {
        "referral_id": idva["referral_id"],
        "agency": "idva",
        "incident_id": incident_id,
        "at": data_of(told)["due_by"],
        "due_by": data_of(told)["due_by"],
    }
    assert _when(data_of(told)["due_by"]) == _when(idva["due_by"])
    assert told_staged == 2  # the team's acknowledgement, and IDVA's clock: once each


async def test_an_acknowledgement_is_published_for_the_console_once(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[CSC])
    incident_id = data["incident_id"]
    app = notify_app(kafka_bootstrap, database_url, group)
    ack = bearer("referrals:ack:childrens-social-care")
    async with (
        TopicReader(kafka_bootstrap, REFERRAL_OUTCOMES) as outcomes,
        running(app) as client,
    ):
        await publish(kafka_bootstrap, data)
        (record,) = await eventually(
            lambda: referrals_of(client, "childrens-social-care", incident_id)
        )
        referral_id = record["referral_id"]
        first = await client.post(f"/v1/referrals/{referral_id}/ack", headers=ack)
        again = await client.post(f"/v1/referrals/{referral_id}/ack", headers=ack)
        event = await outcomes.wait_for(lambda r: data_of(r)["referral_id"] == referral_id)
        async with app.state.platform.sessions() as session:
            outbox = app.state.platform.tables.outbox
            staged = (
                await session.execute(
                    select(func.count())
                    .select_from(outbox)
                    .where(outbox.c.topic == REFERRAL_OUTCOMES)
                )
            ).scalar_one()

    assert (first.status_code, again.status_code) == (204, 204)
    assert headers_of(event)["ce_type"] == "mash.referral.acknowledged"
    assert set(data_of(event)) == {"referral_id", "agency", "incident_id", "at", "due_by"}
    assert staged == 1  # the first acknowledgement counts, once
