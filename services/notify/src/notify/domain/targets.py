"""Where a webhook may point (contract section 5): never at the hub's own network.

A `webhook_url` must be `https://` and every address its host resolves to must be a
public one: not loopback, private, link-local, multicast, unspecified, reserved, shared
(CGNAT) or a cloud metadata address. IPv4-mapped and NAT64/6to4 IPv6 forms are judged by
the IPv4 address they carry. The one exception is loopback, and only when allowed
(development and the test suite), and only as the literal host `127.0.0.1`: then
`http://` is allowed too, for it only. Another spelling of a loopback address (`127.1`,
`2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]`) or a name is refused, whatever it
resolves to: what a resolver makes of a spelling is not the hub's to guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Address = IPv4Address | IPv6Address

METADATA = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS IPv6
    )
)
_NAT64 = IPv6Network("64:ff9b::/96")
_SHARED = IPv4Network("100.64.0.0/10")


def _carried(address: Address) -> Address:
    """The IPv4 address an IPv6 address stands for, if it carries one."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def address_refusal(address: Address, allow_loopback: bool) -> str | None:
    """Why a webhook may not go to `address` (None when it may)."""
    address = _carried(address)
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address in METADATA:
        return "a cloud metadata address"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address.is_link_local, "a link-local address"),
        (isinstance(address, IPv4Address) and address in _SHARED, "a shared (CGNAT) address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((why for refused, why in checks if refused), None)


LOOPBACK = "127.0.0.1"
"""The one spelling of loopback a webhook may use, where loopback is allowed at all."""


def literal_loopback(*hosts: str | None) -> bool:
    """Whether each reading of a URL's host is the literal `127.0.0.1`."""
    return bool(hosts) and all(host == LOOPBACK for host in hosts)


def literal(host: str) -> Address | None:
    """The address a URL's host names literally (`[::1]` included), or None for a name."""
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        return None


def url_refusal(scheme: str, addresses: Iterable[Address], allow_loopback: bool) -> str | None:
    """Why a webhook URL with this scheme, resolving to these addresses, is refused."""
    found = list(addresses)
    for address in found:
        why = address_refusal(address, allow_loopback)
        if why is not None:
            return f"the host is or resolves to {why}"
    if scheme == "https":
        return None
    loopback = bool(found) and all(_carried(a).is_loopback for a in found)
    if scheme == "http" and allow_loopback and loopback:
        return None
    return "the URL must be https://"
