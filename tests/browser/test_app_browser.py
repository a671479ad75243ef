"""The explorer in a real chromium: the page renders, codes appear on the live scatter and move while the models
train, the comparison tab fills its metrics table, and no error box or exception shows anywhere."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
# Traces holding held-out codes (not the prior's contours or samples) that have points, over every plotly chart.
CODE_POINTS = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(gd => (gd._fullData || [])
    .filter(t => t.type === 'scattergl' && t.name !== 'prior samples' && t.x && t.x.length > 0)
    .map(t => Array.from(t.x.slice(0, 5)).join(',')))"""

pytestmark = pytest.mark.browser


def step_counters(page) -> list[int]:
    """The 'step' counters of the model panels, in page order."""
    metrics = page.locator('[data-testid="stMetric"]').filter(has_text=re.compile(r"^step"))
    return [int(v.replace(",", "")) for v in metrics.locator('[data-testid="stMetricValue"]').all_inner_texts()]


def assert_no_errors(page) -> None:
    errors = page.locator(ERRORS)
    assert errors.count() == 0, errors.all_inner_texts()


def test_live_page_trains_and_compares(streamlit_app, page):
    # An empty checkpoint folder: the page must start training by itself, not load a shipped model.
    url = streamlit_app("explorer/app.py", env={"AAE_EXPLORER_CHECKPOINTS": tempfile.mkdtemp()})
    page.goto(url + "/?epochs=1000")
    page.wait_for_function(f"() => ({CODE_POINTS})().length >= 10", timeout=90_000)
    page.locator('[data-testid="stMetric"]').first.wait_for()
    first_steps, first_points = step_counters(page), page.evaluate(CODE_POINTS)
    assert len(first_steps) == 2, "an AAE and a VAE panel"
    page.wait_for_function(
        f"""() => {{
        const now = ({CODE_POINTS})();
        return now.length && now.join('|') !== {first_points!r}.join('|');
    }}""",
        timeout=30_000,
    )
    # Charts draw asynchronously (explorer/charts.js), so the counters and the scatter need not change in the same
    # frame: wait for the counters too.
    deadline = time.monotonic() + 30
    later = step_counters(page)
    while not all(b > a for a, b in zip(first_steps, later)) and time.monotonic() < deadline:
        time.sleep(0.2)
        later = step_counters(page)
    assert all(b > a for a, b in zip(first_steps, later)), (first_steps, later)
    assert "owner=" in page.url, "the session token is in the URL, so a reload re-attaches"
    assert_no_errors(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1900})  # Streamlit scrolls inside the page: show it all
    shot = ARTIFACTS / "app_live.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")

    page.get_by_role("tab", name="AAE vs VAE").click()
    table = page.locator('[data-testid="stDataFrame"]')
    table.wait_for(timeout=60_000)
    page.wait_for_function(f"() => ({CODE_POINTS})().length >= 20", timeout=30_000)
    assert_no_errors(page)
    shot = ARTIFACTS / "app_compare.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    page.locator(".st-key-stop button").first.click()
    page.locator(".st-key-train button").first.wait_for()
    assert_no_errors(page)
