"""Notify's API models: subscriptions (referral records are `shared.schemas.ReferralCreated`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PrivateAttr,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from shared.text import checked


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_url: HttpUrl = Field(
        max_length=2048,
        description="Where each new referral is POSTed: https:// (http:// only to loopback "
        "in development), never to a loopback, private, link-local, multicast, reserved or "
        "cloud-metadata address.",
        examples=["https://csc.example.org/mash/referrals"],
    )
    secret: Annotated[
        str, StringConstraints(strict=True, min_length=1, max_length=256), checked()
    ] = Field(description="The key of the HMAC-SHA256 in `X-Mash-Signature`. Never shown again.")
    _written: str = PrivateAttr(default="")

    @model_validator(mode="wrap")
    @classmethod
    def _keep_what_was_written(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        model = handler(data)
        if isinstance(data, dict) and isinstance(data.get("webhook_url"), str):
            model._written = data["webhook_url"]  # noqa: SLF001 - its own class
        return model

    @property
    def written_url(self) -> str:
        """The URL as the agency wrote it. Its host is judged as written too: the URL
        parser reads `2130706433`, `0x7f000001` or `127.1` as `127.0.0.1`, which must not
        make them the literal loopback a development webhook may name (contract 5)."""
        return self._written or str(self.webhook_url)


class Subscribed(BaseModel):
    agency: str
    webhook_url: str


class RedeliveryTarget(BaseModel):
    """Where a redelivery goes: the delivery's own webhook unless told `current`."""

    model_config = ConfigDict(extra="forbid")

    to: Literal["own", "current"] = Field(
        default="own",
        description="`own`: the URL and secret the delivery was made under (the default);"
        " `current`: the agency's subscription now.",
    )


class Redelivery(RedeliveryTarget):
    since: AwareDatetime = Field(
        description="RFC 3339: dead deliveries of referrals made at or after this moment.",
        examples=["2026-11-21T00:00:00Z"],
    )


class Queued(BaseModel):
    queued: int
