"""Headless Chromium driving Home Assistant's frontend, for the browser tests.

Debian's ``chromium`` (installed by ``scripts/test``) driven by Playwright for Python through
``executable_path``: Playwright never downloads a browser of its own. Playwright's CSS and
text locators reach into open shadow roots, which the frontend is made of; the page's whole
text comes from :data:`tools.devhass.pagetext.PAGE_TEXT_JS`, the one place that walks them.

Every page a test visits is checked with :meth:`UserPage.check`: a screenshot is saved
under :data:`ARTIFACTS` (printed at the end of the run) and the page must not show
"Translation error" anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from pathlib import Path
import re
import shutil
from typing import Final
from urllib.parse import urlsplit

from playwright.async_api import Browser, Error as PlaywrightError, Page, async_playwright
import pytest

from tools.devhass import REPO
from tools.devhass.pagetext import PAGE_TEXT_JS, TRANSLATION_ERROR

ARTIFACTS: Final = REPO / "test-artifacts" / "browser"
"""Screenshots of every step (not in git; the folder is emptied when a run starts)."""
VIEWPORT: Final = {"width": 1280, "height": 1000}
WAIT: Final = 30.0
"""Longest wait for the frontend to show something, in seconds."""


def chromium_path() -> str:
    """Debian's chromium, which ``scripts/test`` installs; the test fails without it."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: run `scripts/provision`; `make test` does it")
    return path


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium; closed on exit."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            # As root Chromium needs --no-sandbox; the rest keeps it from calling home.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--lang=en-US",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()


class UserPage:
    """One tab of Home Assistant's frontend, as a person uses it."""

    def __init__(self, page: Page, base_url: str, artifacts: Path) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.artifacts = artifacts
        self.shots = 0

    async def text(self) -> str:
        """Everything the page shows, through shadow roots, as one string ("" while the
        page is being replaced by another)."""
        try:
            return str(await self.page.evaluate(PAGE_TEXT_JS) or "")
        except PlaywrightError as error:
            if "context was destroyed" in str(error) or "navigat" in str(error):
                return ""
            raise

    async def wait_for_text(
        self,
        *needles: str,
        timeout: float = WAIT,  # noqa: ASYNC109 - with the page's text in the error
        step: str | None = None,
    ) -> str:
        """Wait until the page shows every one of ``needles``; the page's text.

        With ``step``, a "Translation error" on the page fails at once (it will not go away).
        """
        text = ""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    text = await self.text()
                    if step is not None:
                        self.assert_translated(step, text)
                    if all(needle in text for needle in needles):
                        return text
                    await asyncio.sleep(0.25)
        except TimeoutError:
            await self.screenshot("timeout")
            pytest.fail(f"{self.page.url} never showed {needles}; it shows:\n{text[:3000]}")

    async def wait_for_pattern(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:  # noqa: ASYNC109
        """Wait until the page's text matches ``pattern``; the match."""
        text = ""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    text = await self.text()
                    if match := re.search(pattern, text):
                        return match
                    await asyncio.sleep(0.25)
        except TimeoutError:
            await self.screenshot("timeout")
            pytest.fail(f"{self.page.url} never matched {pattern!r}; it shows:\n{text[:3000]}")

    async def screenshot(self, name: str) -> Path:
        """Save the viewport as ``NN-name.png`` under the artifacts folder."""
        self.shots += 1
        path = self.artifacts / f"{self.shots:02d}-{name}.png"
        await self.page.screenshot(path=path)
        return path

    async def check(self, name: str, *needles: str) -> str:
        """The step ``name`` is on screen: wait for ``needles``, save a screenshot, and
        fail if the page shows "Translation error" anywhere; the page's text."""
        try:
            await self.wait_for_text(*needles, step=name)
            await asyncio.sleep(0.5)  # icons and late texts settle before the shot
        finally:
            await self.screenshot(name)
        text = await self.text()
        self.assert_translated(name, text)
        return text

    def assert_translated(self, step: str, text: str) -> None:
        """Fail if ``text`` (a page's) holds a "Translation error"."""
        # A placeholder the integration did not give shows as the parser's error instead.
        assert "formatjs Error" not in text, f"{step} ({self.page.url}) shows: {text[:600]}"
        assert TRANSLATION_ERROR not in text, (
            f"{step} ({self.page.url}) shows {TRANSLATION_ERROR!r}: "
            + "; ".join(translation_errors(text))
        )

    async def field_value(self, label: str) -> str | None:
        """What the form field labelled ``label`` holds (None: no such field)."""
        value = await self.page.evaluate(FIELD_VALUE_JS, label)
        return None if value is None else str(value)

    async def goto(self, path: str) -> None:
        """Open ``path`` of the frontend, as a typed URL or a bookmark would. A dialog
        closed just before may still step the frontend's history back once it has loaded
        (it leaves the page it was opened on): then the page is opened again."""
        before = urlsplit(self.page.url).path
        for _ in range(3):
            await self.page.goto(f"{self.base_url}{path}")
            await asyncio.sleep(0.5)  # a late history step lands within this
            if before == urlsplit(path).path or urlsplit(self.page.url).path != before:
                return  # not stepped back (a redirect of its own, as "/" has, stays)


FIELD_VALUE_JS: Final = """(label) => {
    const walk = (root) => {
        for (const el of root.querySelectorAll("*")) {
            if (el.localName.startsWith("ha-selector") && el.label === label) {
                return el.value ?? "";
            }
            if (el.shadowRoot) {
                const found = walk(el.shadowRoot);
                if (found !== null) return found;
            }
        }
        return null;
    };
    return walk(document);
}"""
"""The value of the form field (a selector of a flow's form) with a given label, through
shadow roots; null if there is none."""


def translation_errors(text: str) -> list[str]:
    """Each "Translation error" of a page's text, with what surrounds it."""
    return [
        text[max(0, match.start() - 80) : match.end() + 40]
        for match in re.finditer(re.escape(TRANSLATION_ERROR), text)
    ]
