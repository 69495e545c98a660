"""The console's checks of what comes from a request (issues 20 and 25)."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest
from pydantic import ValidationError

import console.app
from console.config import Settings
from console.inputs import BadRequest, NotFoundPage, cursor, day, identifier, local, same_token
from console.limits import PerClient
from shared.config import HubSettings

# browsers drop tabs and newlines and read `\` as `/`: each of these would leave the site
OPEN_REDIRECTS = [
    "/\t/evil.example/",
    "/\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%5C/evil.example",
    "/%2F/evil.example",
    "\\\\evil.example",
    "/\r/evil.example",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "",
    None,
    "/" + "a" * 600,
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_a_target_off_this_site_lands_on_the_home_page(target: str | None) -> None:
    assert local(target) == "/"


@pytest.mark.parametrize(
    "target", ["/", "/marac", "/referrals?agency=idva", "/marac/meetings/x?after=a%20b", "/a#b"]
)
def test_a_path_on_this_site_is_kept_exactly(target: str) -> None:
    assert local(target) == target


def test_ids_are_canonical_uuids_or_nothing() -> None:
    known = str(uuid.uuid4())
    assert identifier(known) == known
    assert identifier(known.upper()) == known
    for value in (
        "",
        "not-a-uuid",
        known.replace("-", ""),
        "{" + known + "}",
        "..",
        known + "\x00",
    ):
        with pytest.raises(NotFoundPage):
            identifier(value)


def test_dates_stay_within_the_calendar_the_hub_serves() -> None:
    assert day("2000-01-01", "from") == date(2000, 1, 1)
    assert day("2100-12-31", "to") == date(2100, 12, 31)
    assert day(None, "to") is None
    for value in (
        "9999-12-31",
        "0001-01-01",
        "1999-12-31",
        "2101-01-01",
        "2026-02-30",
        "\uff12\uff10\uff12\uff16-01-01",
    ):
        with pytest.raises(BadRequest):
            day(value, "to")


def test_cursors_are_short_opaque_tokens() -> None:
    assert cursor("eyJpZCI6IDF9") == "eyJpZCI6IDF9"
    assert cursor("") is None
    for value in ("a b", "a\x00", "é", "x" * 1025, "a&b=c", "a#b", "a?b"):
        with pytest.raises(BadRequest):
            cursor(value)


def test_a_form_token_is_the_sessions_or_refused_without_an_error() -> None:
    token = "abc_DEF-123"
    assert same_token(token, token)
    for wrong in (None, "", "abc_DEF-124", "é" * 11, "abc_DEF-12", token + "x", b"abc", 42, ["x"]):
        assert not same_token(token, wrong)


def test_starts_are_limited_per_client_within_a_minute() -> None:
    limit = PerClient(2)
    assert limit.allow("a", 0)
    assert limit.allow("a", 1)
    assert not limit.allow("a", 2)
    assert limit.allow("b", 2)
    assert limit.allow("a", 61)


def production(**extra: object) -> Settings:
    secrets = HubSettings(
        env="production",
        jwks_url="https://idp.example/jwks",
        pseudonym_key="p" * 40,
    )
    return Settings(hub=secrets, **extra)  # type: ignore[arg-type]


def test_production_needs_an_https_public_url() -> None:
    with pytest.raises(ValidationError, match="https"):
        production(public_url="http://console.example")
    with pytest.raises(ValidationError, match="https"):
        production()
    assert production(public_url="https://console.example").secure_cookies


def test_id_token_algorithms_are_asymmetric() -> None:
    for wrong in (["HS256"], ["none"], []):
        with pytest.raises(ValidationError):
            Settings(oidc_algorithms=wrong)
    assert Settings(oidc_algorithms=["ES256"]).oidc_algorithms == ["ES256"]


async def test_production_answers_only_its_host_names_but_probes_from_anywhere() -> None:
    settings = production(public_url="https://console.example", allowed_hosts=["mash.example"])
    app = console.app.create_app(settings)  # no lifespan: nothing here needs it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.example") as c:
        for host, expected in (("console.example", 200), ("mash.example", 200)):
            assert (await c.get("/sign-in", headers={"Host": host})).status_code == expected
        assert (await c.get("/sign-in", headers={"Host": "evil.example"})).status_code == 400
        assert (await c.get("/healthz", headers={"Host": "10.1.2.3:8005"})).status_code == 200
        answer = await c.get("/sign-in", headers={"Host": "console.example"})
        assert "max-age=31536000" in answer.headers["strict-transport-security"]
