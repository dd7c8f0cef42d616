"""Real Chromium driven by Playwright; each test gets a fresh profile (empty IndexedDB).

A plugin (tests/conftest.py names it) rather than a conftest, so that the admin's tests use it too."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("P13N_CHROMIUM", "/usr/bin/chromium")
# As root in a sandboxed machine, with no network: no sandbox, no background traffic.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
BOOT_TIMEOUT_MS = 60_000  # a generous bound for a cold Pyodide boot on a busy CI machine


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: install it (make test does) or set P13N_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context()
    yield context
    context.close()


def _said(message) -> str:
    # Chromium's "Failed to load resource" names no URL in its text, only in its location.
    if message.text.startswith("Failed to load resource"):
        return f"{message.text}: {message.location.get('url', '?')}"
    return message.text


def watched(page):
    """`page`, keeping what it logs and throws in `page.console_messages_seen`."""
    page.console_messages_seen = []
    page.on("console", lambda m: page.console_messages_seen.append((m.type, _said(m))))
    page.on("pageerror", lambda e: page.console_messages_seen.append(("pageerror", str(e))))
    return page


@pytest.fixture
def page(context):
    return watched(context.new_page())
