"""Browser-test fixtures, on the harness in tests/browser/harness.py.

Use them from any test under tests/browser/:

    @pytest.mark.browser
    def test_app(streamlit_app, page):
        page.goto(streamlit_app("explorer/app.py"))      # started for this test, killed at its end
        page.get_by_text("Train").wait_for()

Without /usr/bin/chromium, every test using `browser` or `page` is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.browser.harness import CHROMIUM, ROOT, VIEWPORT, launch_chromium, serve_streamlit


@pytest.fixture
def streamlit_app() -> Iterator[Callable[[str | Path], str]]:
    """Factory: streamlit_app("path/relative/to/repo.py", env=...) -> URL of a server for it (one per script and
    environment per test). Killed at the test's end: a fresh visit starts two models training, and a server kept
    for the session would go on training them beside the later tests (a closed page's jobs run on for the
    registry's grace period), starving them of the machine's cores."""
    with ExitStack() as stack:
        urls: dict[tuple, str] = {}

        def start(script: str | Path, **kwargs) -> str:
            key = ((ROOT / script).resolve(), tuple(sorted((kwargs.get("env") or {}).items())))
            if key not in urls:
                urls[key] = stack.enter_context(serve_streamlit(key[0], **kwargs))
            return urls[key]

        yield start


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the session; skips when /usr/bin/chromium is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, launch_chromium(pw) as b:
        yield b


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test, with a wide viewport so side-by-side layouts stay side by side."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()
