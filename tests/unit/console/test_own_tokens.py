"""The person's own access token (issue 20): read for where and until when it may be sent,
sealed with the session's cookie, and chosen by `Upstream` for exactly the calls whose
scope no console may pass on (`shared.auth.CONSOLE_NEVER`), only to a service it names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from console import own_tokens
from console.config import Settings
from console.domain.people import OwnToken, Person, new_person
from console.scopes import scope_of
from console.upstream import SignInAgain, Upstream
from mash_tools.testing import TEST_KEY, hub_settings
from shared.auth import (
    CONSOLE_TTL,
    OWN_TOKEN_CLAIM,
    console_may_delegate,
    mint,
    mint_sign_in,
    withheld,
)

NOW = datetime.now(UTC)


def own(scopes: list[str], ttl: timedelta = timedelta(hours=1)) -> OwnToken:
    token = mint(TEST_KEY, "dpo", scopes, ttl, "mash")
    found = own_tokens.parse(token, NOW + timedelta(hours=8))
    assert found is not None
    return found


def person(*scopes: str, token: OwnToken | None = None) -> Person:
    found = new_person("dpo", frozenset(scopes), "link", "c", NOW, timedelta(hours=8))
    return Person(**{**found.__dict__, "own_token": token})


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    settings = Settings(database_url="sqlite+aiosqlite://", hub=hub_settings("x:1"))
    found = Upstream(settings)
    await found.start(None)  # type: ignore[arg-type]
    yield found
    await found.stop(None)  # type: ignore[arg-type]


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize("scope", ["records:read", "triage:policy", "subscriptions:write:idva"])
def test_no_console_may_pass_on_these(scope: str) -> None:
    assert not console_may_delegate(scope)
    assert withheld(["marac:read", scope, "nothing:useful"]) == [scope]


def test_a_link_carries_an_own_token_only_for_what_a_console_may_not_pass_on() -> None:
    plain = mint_sign_in(TEST_KEY, "coordinator", ["marac:read"], uuid.uuid4().hex)
    assert OWN_TOKEN_CLAIM not in jwt.decode(plain, options={"verify_signature": False})
    link = mint_sign_in(
        TEST_KEY, "dpo", ["marac:read", "records:read"], "l1", session=timedelta(hours=30)
    )
    inner = jwt.decode(link, options={"verify_signature": False})[OWN_TOKEN_CLAIM]
    claims = jwt.decode(inner, options={"verify_signature": False})
    assert claims["scope"] == "records:read"
    assert claims["aud"] == ["records"]
    assert claims["iss"] == "mash"
    assert claims["exp"] - claims["iat"] == 8 * 3600  # never longer than a session may be


def test_the_token_is_read_for_its_services_and_end_never_past_the_session() -> None:
    token = mint(TEST_KEY, "dpo", ["records:read", "triage:policy"], timedelta(hours=8))
    found = own_tokens.parse(token, NOW + timedelta(hours=1))
    assert found is not None
    assert found.audience == {"records", "triage"}
    assert found.expires_at == NOW + timedelta(hours=1)
    assert "eyJ" not in repr(found)
    assert own_tokens.parse("an-opaque-token", NOW) is None
    assert own_tokens.parse(None, NOW) is None


def test_only_the_sessions_cookie_opens_the_sealed_token() -> None:
    sealed = own_tokens.seal("cookie", "hash", "the-token")
    assert "the-token" not in sealed
    assert own_tokens.unseal("cookie", "hash", sealed) == "the-token"
    assert own_tokens.unseal("another-cookie", "hash", sealed) is None
    assert own_tokens.unseal("cookie", "another-hash", sealed) is None
    assert own_tokens.unseal("cookie", "hash", "not base64!") is None


def test_the_scope_a_call_needs_comes_from_the_page_or_the_route() -> None:
    assert scope_of("records", "/v1/records/search") == "records:read"
    assert scope_of("records", "/v1/records.csv") == "records:read"
    assert scope_of("triage", "/v1/policy-trials/x") == "triage:policy"
    assert scope_of("notify", "/v1/subscriptions/idva") == "subscriptions:write:*"
    assert scope_of("notify", "/v1/referrals") is None
    assert scope_of("records", "/v1/reviews/x") is None
    assert scope_of("notify", "/v1/referrals", "referrals:read:idva") == "referrals:read:idva"


async def test_a_delegable_call_is_the_consoles_token_without_the_withheld_scopes(
    upstream: Upstream,
) -> None:
    someone = person("marac:read", "records:read", token=own(["records:read"]))
    claims = jwt.decode(
        bearer(upstream._headers(someone, "marac")),  # noqa: SLF001
        options={"verify_signature": False},
    )
    assert claims["iss"] == "mash-console"
    assert claims["scope"] == "marac:read"
    assert claims["exp"] - claims["iat"] == CONSOLE_TTL.total_seconds()


async def test_a_withheld_call_forwards_the_persons_own_token(upstream: Upstream) -> None:
    token = own(["records:read"])
    someone = person("records:read", token=token)
    assert bearer(upstream._headers(someone, "records", "records:read")) == token.token  # noqa: SLF001


@pytest.mark.parametrize(
    ("token", "service", "scope"),
    [
        (None, "records", "records:read"),  # none was issued
        (own(["records:read"], timedelta(seconds=-1)), "records", "records:read"),  # expired
        (own(["records:read"]), "triage", "triage:policy"),  # not for this service
    ],
)
async def test_without_a_good_own_token_the_person_signs_in_again(
    upstream: Upstream, token: OwnToken | None, service: str, scope: str
) -> None:
    someone = person("records:read", "triage:policy", token=token)
    with pytest.raises(SignInAgain):
        upstream._headers(someone, service, scope)  # noqa: SLF001
