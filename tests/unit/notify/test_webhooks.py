"""What notify records of a webhook URL (`webhooks.redact_url`): never user info or a
query string, which may hold credentials."""

from __future__ import annotations

import pytest

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
