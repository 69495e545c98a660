"""Ports for servers that tests start later: outside the ephemeral range, never twice."""

from __future__ import annotations

import socket

import pytest

from mash_tools.testing import _ephemeral_range, free_port, free_ports_in_a_row


def test_ports_lie_outside_the_range_outgoing_connections_take_theirs_from() -> None:
    low, high = _ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert all(not low <= p <= high for p in ports)


def test_a_port_is_never_handed_out_twice() -> None:
    first = free_ports_in_a_row(3)
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
    assert not {first, first + 1, first + 2} & set(ports)


def test_a_run_is_free_when_handed_out() -> None:
    first = free_ports_in_a_row(3)
    with socket.socket() as a, socket.socket() as b, socket.socket() as c:
        for s, port in zip((a, b, c), range(first, first + 3), strict=True):
            s.bind(("127.0.0.1", port))


def test_two_xdist_workers_hand_out_ports_from_slices_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    handed: dict[str, set[int]] = {}
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        runs = [free_ports_in_a_row(3) for _ in range(100)]
        handed[worker] = {p for first in runs for p in range(first, first + 3)}
        handed[worker] |= {free_port() for _ in range(200)}
    assert max(handed["gw0"]) < min(handed["gw1"])  # a run never reaches into the next slice
