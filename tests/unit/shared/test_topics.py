"""The one list of topics: every name in the contract's shape, log topics one per service."""

from __future__ import annotations

import re

from shared import topics
from shared.registry import NAMES

NAME = re.compile(r"^mash\.[a-z][a-z0-9.-]*\.v1$")


def test_every_topic_is_a_versioned_mash_topic_listed_once() -> None:
    assert len(set(topics.ALL_TOPICS)) == len(topics.ALL_TOPICS)
    for topic in topics.ALL_TOPICS:
        assert NAME.match(topic), topic


def test_each_service_has_its_own_log_topic() -> None:
    assert set(topics.AUDITED_SERVICES) == set(NAMES)
    assert topics.audit_topic("notify") == "mash.audit.notify.v1"
    assert set(topics.AUDIT_TOPICS) <= set(topics.ALL_TOPICS)


def test_log_topics_keep_thirty_days_and_others_the_broker_default() -> None:
    assert topics.topic_config(topics.audit_topic("records")) == {
        "retention.ms": str(30 * 24 * 3600 * 1000)
    }
    assert topics.topic_config(topics.INCIDENTS) == {}


def test_each_agency_has_one_referral_topic() -> None:
    referral_topics = [t for t in topics.ALL_TOPICS if t.startswith("mash.referrals.")]
    assert referral_topics == [topics.referrals_topic(a) for a in topics.AGENCIES]


def test_audit_types_name_the_six_operations() -> None:
    assert [topics.audit_type(o) for o in topics.AUDIT_OPERATIONS] == [
        "mash.audit.collected",
        "mash.audit.altered",
        "mash.audit.consulted",
        "mash.audit.disclosed",
        "mash.audit.combined",
        "mash.audit.erased",
    ]
