"""`/docs` and `/redoc` work on a plane: headless Chromium, every request that would leave
loopback refused, renders Swagger UI and ReDoc from the service's own assets."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Route, sync_playwright

from mash_tools.testing import free_port
from shared.config import ROOT

# the launch flags of the machine notes: no sandbox as root, and no background traffic
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # nothing but loopback resolves, and every other connection goes to a closed port
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
]


def _apps() -> dict[str, FastAPI]:
    from intake.app import create_app as intake
    from marac.app import create_app as marac
    from notify.app import create_app as notify
    from triage.app import create_app as triage

    return {"intake": intake(), "triage": triage(), "notify": notify(), "marac": marac()}


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium, installed by the project's own script when missing."""
    subprocess.run(["bash", str(ROOT / "deploy" / "chromium.sh"), "install"], check=True)
    path = shutil.which("chromium")
    assert path, "deploy/chromium.sh did not install chromium"
    return path


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """Each service's app on a free loopback port (the pages need no Kafka or database)."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []
    urls: dict[str, str] = {}
    for name, app in _apps().items():
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        urls[name] = f"http://127.0.0.1:{port}"
    try:
        for url in urls.values():
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{url}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, f"{url} did not start"
                    time.sleep(0.1)
        yield urls
    finally:
        for server, thread in running:
            server.should_exit = True
            thread.join(10)


def _render(chromium: str, url: str, selector: str, shot: Path) -> tuple[str, list[str]]:
    """Open `url` with the network blocked; the text at `selector` and what left loopback."""
    refused: list[str] = []

    def guard(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host == "127.0.0.1" or route.request.url.startswith("data:"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", guard)
            page.goto(url, wait_until="load")
            element = page.wait_for_selector(selector, timeout=60000)
            assert element is not None
            text = element.inner_text()
            if "swagger" in selector:  # the operations too, not just the title
                page.wait_for_selector(".swagger-ui .opblock", timeout=60000)
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    return text, refused


@pytest.mark.parametrize("service", ["intake", "triage", "notify", "marac"])
def test_swagger_ui_renders_with_no_network(
    service: str, chromium: str, servers: dict[str, str], tmp_path: Path
) -> None:
    shot = tmp_path / f"{service}-docs.png"
    title, refused = _render(
        chromium, f"{servers[service]}/docs", ".swagger-ui .information-container h1.title", shot
    )
    assert f"MASH {service}" in title  # rendered from openapi.json by the local bundle
    assert refused == []  # nothing was fetched from outside, not even a font
    assert shot.stat().st_size > 10_000


def test_redoc_renders_with_no_network(
    chromium: str, servers: dict[str, str], tmp_path: Path
) -> None:
    shot = tmp_path / "intake-redoc.png"
    heading, refused = _render(chromium, f"{servers['intake']}/redoc", ".api-content h1", shot)
    assert "MASH intake" in heading
    assert refused == []


def test_the_pages_name_only_local_assets(servers: dict[str, str]) -> None:
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{servers['intake']}{page}").text
        assert "/docs-assets/" in html
        assert "cdn" not in html.lower()
        assert "fonts.googleapis" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        answer = httpx.get(f"{servers['intake']}/docs-assets/{asset}")
        assert answer.status_code == 200
        assert len(answer.content) > 10_000
