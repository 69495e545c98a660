"""What leaves the process in spans: no URL query strings or user info, a bounded file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.telemetry import JsonLinesExporter, RedactingExporter, redact_attributes, redact_url


def test_urls_lose_user_info_query_and_fragment() -> None:
    assert (
        redact_url("https://user:pw@partner.example:8443/hook?api_key=s3cret#x")
        == "https://partner.example:8443/hook"
    )
    assert redact_url("http://127.0.0.1:9000/a/b?x=1") == "http://127.0.0.1:9000/a/b"
    assert redact_url("/v1/referrals?agency=idva&incident_id=1") == "/v1/referrals"
    assert redact_url("plain text, no url") == "plain text, no url"


def test_attributes_keep_ids_and_drop_query_strings() -> None:
    clean = redact_attributes(
        {
            "http.url": "https://hooks.example/idva?api_key=s3cret",
            "url.full": "https://bob:pw@hooks.example/x?token=1",
            "url.query": "api_key=s3cret",
            "http.target": "/v1/referrals?agency=idva",
            "db.statement": "SELECT * FROM outbox WHERE id = ?",
            "mash.incident_id": "0b5e7e0c-1f7f-4a52-a0d6-3f55c3a3a6c1",
            "messaging.kafka.message.offset": 7,
        }
    )
    assert clean == {
        "http.url": "https://hooks.example/idva",
        "url.full": "https://hooks.example/x",
        "http.target": "/v1/referrals",
        "db.statement": "SELECT * FROM outbox WHERE id = ?",
        "mash.incident_id": "0b5e7e0c-1f7f-4a52-a0d6-3f55c3a3a6c1",
        "messaging.kafka.message.offset": 7,
    }


def test_exporters_receive_redacted_spans() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(memory)))
    with provider.get_tracer("t").start_as_current_span("deliver") as span:
        span.set_attribute("http.url", "https://hooks.example/x?api_key=s3cret")
    (exported,) = memory.get_finished_spans()
    assert exported.attributes == {"http.url": "https://hooks.example/x"}
    assert exported.name == "deliver"


def _write_spans(exporter: JsonLinesExporter, count: int) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    for n in range(count):
        with tracer.start_as_current_span(f"span {n}"):
            pass
    exporter.export(memory.get_finished_spans())


def test_the_json_lines_file_is_owner_only_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "traces" / "notify.jsonl"
    exporter = JsonLinesExporter(path, max_bytes=4096)
    for _ in range(20):
        _write_spans(exporter, 5)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    previous = path.with_name("notify.jsonl.1")
    assert previous.exists()
    assert stat.S_IMODE(previous.stat().st_mode) == 0o600
    assert path.stat().st_size <= 4096
    assert previous.stat().st_size <= 4096
    assert sorted(p.name for p in path.parent.iterdir()) == ["notify.jsonl", "notify.jsonl.1"]
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["name"] == "span 4"
    assert len(last["trace_id"]) == 32
