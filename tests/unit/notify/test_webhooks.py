"""What notify records of a webhook URL (`webhooks.redact_url`): never user info or a
query string, which may hold credentials; where a POST goes (`webhooks.target`), decided
with the test's resolver before any connection."""

from __future__ import annotations

import pytest

from notify import webhooks
from notify.webhooks import redact_url


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://u:p@csc.example.org/hook?api_key=s3cret#x", "https://csc.example.org/hook"),
        ("http://127.0.0.1:9000/in?token=t", "http://127.0.0.1:9000/in"),
        ("https://[::1]:8443/a/b?sig=1", "https://[::1]:8443/a/b"),
        ("https://partner.test/hook", "https://partner.test/hook"),
    ],
)
def test_user_info_query_and_fragment_are_redacted(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


async def test_a_post_goes_to_the_checked_address_with_the_urls_host() -> None:
    """The name is resolved once, checked, and that address is dialled, the URL's name
    kept for the Host header and TLS (a second resolution cannot move it)."""
    answers = iter([["93.184.215.14"], ["10.0.0.9"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    where = await webhooks.target("https://csc.partner.test:8443/hook", rebinding, False)
    assert where.url == "https://93.184.215.14:8443/hook"
    assert where.host == "csc.partner.test:8443"
    assert where.server_name == "csc.partner.test"
    with pytest.raises(webhooks.Refused):
        await webhooks.target("https://csc.partner.test:8443/hook", rebinding, False)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433:8001/x",
        "http://0x7f000001:8001/x",
        "http://127.1:8001/x",
        "http://[::ffff:127.0.0.1]:8001/x",
        "http://localhost:8001/x",
    ],
)
async def test_only_the_literal_loopback_is_dialled_in_development(url: str) -> None:
    async def as_getaddrinfo(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    with pytest.raises(webhooks.Refused):
        await webhooks.target(url, as_getaddrinfo, True)
    literal = await webhooks.target("http://127.0.0.1:8001/x", as_getaddrinfo, True)
    assert literal.url == "http://127.0.0.1:8001/x"


def test_a_redelivery_to_another_host_names_both_in_its_log_route() -> None:
    from notify.handlers import _redirected

    assert _redirected("https://new.example/hook", "https://old.example/hook") == (
        "new.example (was old.example)"
    )
    assert _redirected("https://same.example/a", "https://same.example/b") == "same.example"
    assert _redirected("https://new.example/hook", None) == "new.example"
