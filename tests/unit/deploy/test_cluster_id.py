"""Kafka cluster ids: never one a command line takes for an option, unless a test wants it."""

from __future__ import annotations

import base64

from mash_tools.cluster import new_cluster_id
from mash_tools.testing import dash_led_cluster_id

DASH_LED = bytes([0xF9]) + bytes(15)  # base64url "-Q...": 0xF9's top six bits are 62
PLAIN = bytes(range(16))


def test_an_id_that_would_begin_with_a_dash_is_drawn_again() -> None:
    draws = iter([DASH_LED, DASH_LED, PLAIN])
    assert base64.urlsafe_b64encode(DASH_LED).decode().startswith("-")
    cluster_id = new_cluster_id(lambda: next(draws))
    assert cluster_id == base64.urlsafe_b64encode(PLAIN).decode().rstrip("=")


def test_cluster_ids_are_kafka_shaped_and_never_dash_led() -> None:
    ids = [new_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)


def test_the_suite_broker_id_is_dash_led_and_decodes_to_sixteen_bytes() -> None:
    for _ in range(200):
        cluster_id = dash_led_cluster_id()
        assert cluster_id.startswith("-")
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
