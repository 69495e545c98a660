"""Every decision triage publishes has its summary (contract section 7): one, keyed like
the decision, the decision without personal data, through the same outbox; on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from mash_tools.testing import TopicReader, bearer, data_of, headers_of
from shared.schemas import TriageDecided
from shared.topics import DECISIONS, SUMMARIES, TRIAGE_SUMMARISED
from tests.builders import dash_body
from tests.integration.triage.kit import Stack, decision_for, unique_victim
from tests.personal import personal_data_in
from triage.domain.summary import summarise, summary_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_each_decision_is_summarised_once_keyed_like_it(stack: Stack) -> None:
    victim = unique_victim()
    async with (
        TopicReader(stack.bootstrap, DECISIONS) as decisions,
        TopicReader(stack.bootstrap, SUMMARIES) as summaries,
    ):
        incident_id = await stack.report(victim, 1)
        first = await decisions.wait_for(decision_for(incident_id))
        answer = await stack.intake.post(
            f"/v1/incidents/{incident_id}/risk-assessments",
            json=dash_body(yes=15),
            headers=bearer("incidents:write"),
        )
        assert answer.status_code == 202, answer.text
        later = await decisions.wait_for(decision_for(incident_id, dash_score=15))
        last_id = str(summary_id(TriageDecided.model_validate(data_of(later)).decision_id))
        # the relay publishes in outbox order: the last summary comes after any other
        await summaries.wait_for(lambda r: headers_of(r)["ce_id"] == last_id)

    def about(record: Any) -> bool:
        return headers_of(record).get("ce_subject") == incident_id

    published = [r for r in decisions.records if about(r)]
    summarised = [r for r in summaries.records if about(r)]
    assert len(published) == 2
    assert len(summarised) == len(published)
    by_id = {headers_of(r)["ce_id"]: r for r in summarised}
    for decision in (first, later):
        data = TriageDecided.model_validate(data_of(decision))
        summary = by_id[str(summary_id(data.decision_id))]
        assert headers_of(summary)["ce_type"] == TRIAGE_SUMMARISED
        assert summary.key == decision.key
        assert data_of(summary) == summarise(data).model_dump(mode="json")
        assert personal_data_in(summary.value) == []
        assert victim["given_name"] not in summary.value.decode()
        assert victim["given_name"] in decision.value.decode()
