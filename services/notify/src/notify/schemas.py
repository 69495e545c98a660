"""Notify's API models: subscriptions (referral records are `shared.schemas.ReferralCreated`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

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


class Subscribed(BaseModel):
    agency: str
    webhook_url: str


class Redelivery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(
        description="RFC 3339: dead deliveries of referrals made at or after this moment.",
        examples=["2026-11-21T00:00:00Z"],
    )


class Queued(BaseModel):
    queued: int
