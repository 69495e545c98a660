"""A consumer's table validates an event's data from the bytes it came with (pydantic's
`model_validate_json`, one pass), and an event made here, with no bytes, from its data;
both refuse what the payload model refuses (the loop dead-letters it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.envelope import CloudEvent, parse
from shared.kafka import On, dispatch


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int
    at: datetime


def event(data: dict[str, Any], raw: bytes = b"") -> CloudEvent:
    return CloudEvent(id="e1", source="test", type="t", subject="s", data=data, raw=raw)


async def handled(one: CloudEvent) -> list[Payload]:
    seen: list[Payload] = []

    async def handler(ctx: None, session: Any, data: Payload, ev: Any, now: datetime) -> None:
        seen.append(data)

    handle = dispatch({"t": On(Payload, handler)}, None)
    await handle(None, one)  # type: ignore[arg-type]
    return seen


async def test_a_consumed_event_is_validated_from_its_bytes() -> None:
    value = json.dumps({"n": 3, "at": "2026-12-05T09:00:00Z"}).encode()
    consumed = parse(event({}).headers(), value)
    assert consumed.raw == value
    [data] = await handled(consumed)
    assert data == Payload(n=3, at=datetime(2026, 12, 5, 9, tzinfo=UTC))
    # the bytes are what is validated: a dict that says otherwise is not read
    [data] = await handled(event({"n": 99, "at": "2020-01-01T00:00:00Z"}, raw=value))
    assert data.n == 3


async def test_an_event_made_here_is_validated_from_its_data() -> None:
    [data] = await handled(event({"n": 4, "at": "2026-12-05T09:00:00Z"}))
    assert data.n == 4


@pytest.mark.parametrize(
    "value", [b'{"n": "x", "at": "2026-12-05T09:00:00Z"}', b'{"n": 1, "at": "now", "extra": 1}']
)
async def test_what_the_model_refuses_is_refused_from_bytes_too(value: bytes) -> None:
    with pytest.raises(ValidationError):
        await handled(event(json.loads(value), raw=value))
    with pytest.raises(ValidationError):
        await handled(event(json.loads(value)))
