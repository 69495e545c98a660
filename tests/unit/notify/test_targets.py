"""Where a webhook may point (`domain/targets.py`, contract section 5): never at the hub's
own network. Pure: no name is resolved and nothing is sent."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from notify.domain.targets import address_refusal, literal, url_refusal

REFUSED = [
    "127.0.0.1",
    "127.1.2.3",
    "::1",
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.10",
    "169.254.169.254",  # cloud metadata
    "169.254.10.10",  # link-local
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "100.64.0.1",  # shared (CGNAT)
    "100.100.100.200",
    "0.0.0.0",  # noqa: S104
    "::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
]


@pytest.mark.parametrize("address", REFUSED)
def test_the_hubs_own_network_and_the_cloud_are_refused(address: str) -> None:
    assert address_refusal(ip_address(address), allow_loopback=False) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ip_address(address), allow_loopback=False) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"])
def test_loopback_only_when_allowed(address: str) -> None:
    assert address_refusal(ip_address(address), allow_loopback=True) is None


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "0.0.0.0"])  # noqa: S104
def test_allowing_loopback_allows_nothing_else(address: str) -> None:
    assert address_refusal(ip_address(address), allow_loopback=True) is not None


def test_https_is_required_outside_loopback() -> None:
    public = [ip_address("93.184.215.14")]
    assert url_refusal("https", public, allow_loopback=False) is None
    assert url_refusal("http", public, allow_loopback=False) == "the URL must be https://"
    assert url_refusal("http", public, allow_loopback=True) == "the URL must be https://"


def test_http_to_loopback_only_when_loopback_is_allowed() -> None:
    loopback = [ip_address("127.0.0.1")]
    assert url_refusal("http", loopback, allow_loopback=True) is None
    assert url_refusal("http", loopback, allow_loopback=False) is not None


def test_one_bad_address_among_many_refuses_the_host() -> None:
    mixed = [ip_address("93.184.215.14"), ip_address("10.1.2.3")]
    assert url_refusal("https", mixed, allow_loopback=False) is not None


def test_a_name_that_resolves_to_nothing_is_judged_by_its_scheme() -> None:
    assert url_refusal("https", [], allow_loopback=False) is None
    assert url_refusal("http", [], allow_loopback=True) is not None


@pytest.mark.parametrize(
    ("host", "found"), [("[::1]", "::1"), ("10.0.0.1", "10.0.0.1"), ("partner.example", None)]
)
def test_literal_hosts(host: str, found: str | None) -> None:
    assert literal(host) == (ip_address(found) if found else None)
