"""A real browser for the console's tests: Debian's Chromium, headless, driven by Playwright
(which cannot download a browser of its own here). A page keeps every HTML it was shown,
so a test can search all of them (for a canary name, say)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support.services import missing

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP: ViewportSize = {"width": 1280, "height": 860}


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        missing("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright", "the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Seen:
    """Every page's HTML a test was shown, in order."""

    pages: list[str] = field(default_factory=list)

    def keep(self, page: Page) -> Page:
        self.pages.append(page.content())
        return page


def log_in(page: Page, base_url: str, name: str, password: str) -> None:
    """Log in as a person would: the console sends them to the login page; the keyboard
    submits the form."""
    page.goto(f"{base_url}/console/")
    assert re.search(r"/console/login\?next=", page.url), page.url
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{base_url}/console/")


def http_session(base_url: str, name: str, password: str) -> tuple[httpx.Client, str]:
    """A logged-in HTTP client (not a browser: for forged requests) and its CSRF token."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    form = client.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token, form.text
    answer = client.post(
        "/console/login",
        data={"login_token": token.group(1), "name": name, "password": password, "next": "/"},
    )
    assert answer.status_code == 303, answer.text
    return client, csrf_token(client.get("/console/").text)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)
