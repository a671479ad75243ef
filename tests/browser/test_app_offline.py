"""The explorer makes no request to any host but its own, on every tab, and no chart offers a one-click upload to
Plotly Cloud (issue 14, items 1 and 2). It loads the shipped demo models ("Trained demos"), so the comparison's
metrics must arrive while nothing trains (item 6); the screenshots of the comparison and the pad are saved under
artifacts/."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
TABS = ("Live training", "Decoded", "AAE vs VAE", "Latent pad", "Timeline", "Checkpoints & export", "Draw a prior")
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'

pytestmark = pytest.mark.browser


def outside(requests: list[str], own: str) -> list[str]:
    """The requests (http, https, ws, wss) to any host other than `own` (host:port)."""
    return [
        url
        for url in requests
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != own
    ]


def screenshot(page, name: str) -> None:
    """The whole tab (Streamlit scrolls inside the page, so a tall viewport for the shot), under artifacts/."""
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_every_tab_stays_on_the_apps_own_host(streamlit_app, browser):
    url = streamlit_app("explorer/app.py")  # the shipped demo models, loaded paused by "Trained demos"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("websocket", lambda ws: requests.append(ws.url))
        ARTIFACTS.mkdir(exist_ok=True)
        page.goto(url)
        page.get_by_role("button", name="Trained demos").click()  # a fresh visit trains; the demos are a click away
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=90_000)  # loaded, paused
        page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
        for tab in TABS:
            page.get_by_role("tab", name=tab).click()
            page.wait_for_load_state("networkidle")
            if tab == "AAE vs VAE":
                page.locator('[data-testid="stDataFrame"]').wait_for(timeout=90_000)  # arrives while paused
                screenshot(page, "app_compare_after.png")
            if tab == "Latent pad":
                page.wait_for_function("window.__padStats && window.__padStats.ready", timeout=30_000)
                box = page.locator('.lp-panel[data-model="AAE"] canvas.lp-overlay').bounding_box()
                page.mouse.click(box["x"] + 0.55 * box["width"], box["y"] + 0.4 * box["height"])
                page.locator(".st-key-pad-server img").first.wait_for(timeout=10_000)
                screenshot(page, "app_pad_after.png")
            assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
        own = urlsplit(url).netloc
        assert requests and not outside(requests, own), sorted(set(outside(requests, own)))
        icon = page.locator('link[rel*="icon"]').first.get_attribute("href")
        assert icon and not outside([urljoin(page.url, icon)], own), icon  # headless chromium may not fetch it

        page.get_by_role("tab", name="Live training").click()
        page.locator(".js-plotly-plot .modebar-btn").first.wait_for(
            state="attached", timeout=90_000
        )  # a cold first chart under load
        assert page.locator(".modebar-btn").count() > 0, "the mode bar is there (zoom, pan, save as PNG)"
        assert page.locator('.modebar-btn[data-title^="Share chart"]').count() == 0
        assert page.locator(".modebar-btn--logo, a[href*='plotly.com']").count() == 0
    finally:
        context.close()


def test_outside_finds_other_hosts_only():
    own = "127.0.0.1:8501"
    assert (
        outside(
            [
                f"http://{own}/app/static/plotly.min.js",
                f"ws://{own}/_stcore/stream",
                "data:image/png;base64,",
                "blob:http://127.0.0.1:8501/x",
            ],
            own,
        )
        == []
    )
    assert outside(["https://fonts.gstatic.com/s/i/x.svg", f"http://{own}/"], own) == [
        "https://fonts.gstatic.com/s/i/x.svg"
    ]
