"""The browser tests' hub: intake, triage, notify, marac and the console served over real
HTTP on loopback (in-process uvicorn, the session's broker), and headless Chromium
confined to loopback, with axe-core injected from the local npm package."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Page, Route, async_playwright

from shared.config import ROOT

AXE = ROOT / "services" / "console" / "node_modules" / "axe-core" / "axe.min.js"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def redeem_link(link: str) -> httpx.Response:
    """A sign-in link used as a person uses it: its page (which signs nobody in), then
    the page's Sign in button (a POST with the form's token and cookie). The answer to
    the GET when it is a refusal, otherwise to the POST."""
    with httpx.Client() as client:
        page = client.get(link)
        if page.status_code != 200:
            return page
        fields = dict(re.findall(r'name="(token|csrf_token)" value="([^"]+)"', page.text))
        base = link.split("/sign-in/link", 1)[0]
        return client.post(f"{base}/sign-in/link", data=fields)


async def sign_in(page: Page, link: str) -> None:
    """Open a sign-in link and press its page's Sign in button; on to the home page."""
    await page.goto(link)
    async with page.expect_navigation():
        await page.click("#sign-in")


def chromium() -> str:
    """Debian's Chromium, installed by the project's script when missing."""
    found = subprocess.run(
        ["bash", str(ROOT / "deploy" / "chromium.sh"), "install"],
        check=True,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip().splitlines()[-1]


@asynccontextmanager
async def served(app: FastAPI, port: int) -> AsyncIterator[str]:
    """The app on http://127.0.0.1:port, lifespan and all, until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped while starting")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Screens:
    """Where the pages' screenshots go (the test run's temporary directory)."""

    directory: Path
    taken: list[Path] = field(default_factory=list)

    async def take(self, page: Page, name: str) -> None:
        """The page as a person sees it: loaded, its fonts too (GOV.UK Frontend hides text
        until they are: a page shot straight after a click came out blank)."""
        path = self.directory / f"{len(self.taken):02d}-{name}.png"
        await page.wait_for_load_state("load")
        await page.evaluate("document.fonts.ready.then(() => true)")
        await page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


async def loopback_only(route: Route) -> None:
    """Nothing leaves the machine: any request not to 127.0.0.1 is aborted."""
    url = route.request.url
    if url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
        await route.continue_()
    else:
        await route.abort()


@asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium(), args=BROWSER_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(launched: Browser) -> Page:
    # axe-core is injected as an inline script, which the console's CSP rightly forbids
    context = await launched.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    await context.route("**/*", loopback_only)
    return await context.new_page()


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of WCAG 2.2 A/AA (and best practice)."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag', values:
            ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def check_page(page: Page, screens: Screens, name: str) -> None:
    """Every page: a screenshot to look at, and no serious or critical axe violation."""
    await screens.take(page, name)
    found = await axe_violations(page)
    assert not found, f"{name}: {json.dumps(found, indent=1)}"
