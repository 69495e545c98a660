"""The end of `mash demo`: a subject access request answered from the records service.

A data protection officer asks the records service (contract section 12) about one of
the day's victims, by the names and date of birth a request would carry, with a token
holding `records:read` only, and reads in time order who collected, combined, disclosed
and consulted the person's data; then asks it to verify every service's chain. The
entries hold ids and pseudonymous keys, never the person's data: the names are only in
the question, and the records service keeps none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from mash_tools.keys import signing_key
from shared.auth import mint
from shared.config import HubSettings
from shared.kafka_security import client_options
from shared.topics import AGENCIES, referrals_topic

WANTED = ("collected", "combined", "disclosed", "consulted")
"""What the demo's victim's entries must show (issue 19: who collected, combined,
disclosed and consulted their data)."""
MAX_PAGES = 50


@dataclass
class Answer:
    """What the records service said about one person, and about its chains."""

    question: dict[str, str]
    entries: list[dict[str, Any]] = field(default_factory=list)
    verify: dict[str, Any] = field(default_factory=dict)

    @property
    def operations(self) -> set[str]:
        return {str(e.get("operation")) for e in self.entries}

    @property
    def missing(self) -> list[str]:
        gone = [op for op in WANTED if op not in self.operations]
        if not any(e.get("via") == "topic" and e.get("operation") == "consulted" for e in self):
            gone.append("consulted by an agency on its topic")
        return gone

    def __iter__(self) -> Any:
        return iter(self.entries)


async def _read_topic(agency: str, seconds: float) -> int:
    """One agency's inbox reader: its topic read with its own consumer group (contract
    section 8), offsets committed, as a partner's system does."""
    consumer = AIOKafkaConsumer(
        referrals_topic(agency),
        group_id=f"{agency}.demo-inbox",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        bootstrap_servers=HubSettings().kafka_bootstrap,
        **client_options(agency),
    )
    read = 0
    await consumer.start()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches and read:
                break
            read += sum(len(records) for records in batches.values())
        await consumer.commit()
    finally:
        await consumer.stop()
    return read


def agencies_read_their_topics(seconds: float = 10) -> dict[str, int]:
    """Each agency reads what is on its topic, so the records service logs their
    consumption as `consulted` (`via: topic`, `sub`: the group) within a minute."""
    read: dict[str, int] = {}
    for agency in AGENCIES:
        with contextlib.suppress(KafkaError, OSError):
            read[agency] = asyncio.run(_read_topic(agency, seconds))
    return read


def dpo_headers() -> dict[str, str]:
    """A data protection officer's token: `records:read` and nothing else."""
    settings = HubSettings()
    key = signing_key(settings)
    token = mint(key, "demo-dpo", ["records:read"], timedelta(hours=1), settings.jwt_issuer)
    return {"Authorization": f"Bearer {token}"}


def search(client: httpx.Client, records: str, question: dict[str, str]) -> list[dict[str, Any]]:
    """`POST /v1/records/search`, every page (section 2: `Link: <next>; rel="next"`)."""
    headers = dpo_headers()
    url: str | None = f"{records}/v1/records/search"
    found: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        if url is None:
            break
        answer = client.post(url, json=question, headers=headers)
        answer.raise_for_status()
        found += answer.json()
        link = answer.links.get("next", {}).get("url")
        url = str(httpx.URL(url).join(link)) if link else None
    return sorted(found, key=lambda e: str(e.get("at", "")))


def verify(client: httpx.Client, records: str) -> dict[str, Any]:
    answer = client.get(f"{records}/v1/records/verify", headers=dpo_headers())
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def ask(client: httpx.Client, records: str, victim: dict[str, Any], deadline: float) -> Answer:
    """Search for `victim` until the entries show every operation of WANTED (the log
    topics reach the records service a moment after the operations) or the deadline."""
    question = {k: str(victim[k]) for k in ("given_name", "family_name", "date_of_birth")}
    answer = Answer(question)

    def complete() -> bool:
        try:
            answer.entries = search(client, records, question)
        except httpx.HTTPError:
            return False
        return not answer.missing

    wait_until(complete, deadline)
    answer.verify = verify(client, records)
    return answer


def report(answer: Answer, records: str) -> None:
    """Print the entries in time order, then verify's answer."""
    who = answer.question
    print(
        f"\nRecords of processing: a subject access request for {who['given_name']} "
        f"{who['family_name']} ({who['date_of_birth']}), as a data protection officer makes it:"
    )
    print(f"  POST {records}/v1/records/search (names and date of birth; scope records:read)")
    if not answer.entries:
        print("  no entries yet")
    print(f"  {'when (UTC)':<20} {'service':<13} {'operation':<10} {'who':<24} {'how':<7} where")
    for entry in answer.entries:
        at = str(entry.get("at", ""))[:19].replace("T", " ")
        where = str(entry.get("route") or "")
        if entry.get("recipient"):
            where += f" -> {entry['recipient']}"
        ids = entry.get("ids") or []
        print(
            f"  {at:<20} {entry.get('service', ''):<13} {entry.get('operation', ''):<10} "
            f"{str(entry.get('sub', ''))[:24]:<24} {entry.get('via', ''):<7} {where} "
            f"({entry.get('resource', '')}, {len(ids)} id{'s' if len(ids) != 1 else ''})"
        )
    if answer.missing:
        print(f"  not yet in the records: {', '.join(answer.missing)}")
    print(f"  GET {records}/v1/records/verify: {verdict(answer.verify)}")
    print(f"  the same as CSV for the ICO: GET {records}/v1/records.csv?subject=<key>")


def verdict(result: dict[str, Any]) -> str:
    """verify's answer in words."""
    if result.get("ok") is True:
        return f"ok, {result.get('entries', '?')} entries, every service's chain intact"
    return (
        f"BROKEN at {result.get('service')} entry {result.get('entry_id')}: {result.get('reason')}"
    )


def wait_until(until: Callable[[], bool], deadline: float) -> bool:
    """Poll `until` every half second until it holds or the deadline passes."""
    while True:
        if until():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
