"""Slow motion, linked hovering and a health message in a real chromium: the three phases run in turn over D(z),
hovering a code shows its image, a failure preset leads to its one-line message. Screenshots of the slow-motion
view and of the health message are kept in docs/screenshots/."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.browser.test_app_browser import assert_no_errors

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
TAB = "?tab=Explained%2C+slow+motion&epochs=1000"
# Hover the first point of the first trace holding codes on the slow-motion chart, through plotly's own hover.
HOVER_A_CODE = """() => {
    const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => (g._fullData || []).some(
        t => t.type === 'contour'));
    const i = gd._fullData.findIndex(t => t.customdata && t.customdata.length);
    Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: 0}]);
    return gd._fullData[i].customdata[0];
}"""
HAS_SURFACE = """() => [...document.querySelectorAll('.js-plotly-plot')].some(gd => (gd._fullData || []).some(
    t => t.type === 'contour' && t.name === 'D(z)'))"""

pytestmark = pytest.mark.browser


def test_slow_motion_runs_each_phase_over_the_decision_surface(streamlit_app, page):
    url = streamlit_app("explorer/app.py", env={"AAE_EXPLORER_CHECKPOINTS": tempfile.mkdtemp()})
    page.goto(url + "/" + TAB)
    for name, opening in (("reconstruction", "Reconstruction:"), ("discriminator", "Discriminator:"),
                          ("generator", "Generator:")):  # fmt: skip
        button = page.get_by_role("button", name=f"Next phase: {name}")
        button.wait_for(timeout=90_000)
        button.click()
        page.locator('[data-testid="stAlertContentInfo"]', has_text=opening).wait_for(timeout=30_000)
    page.wait_for_function(HAS_SURFACE, timeout=30_000)
    assert (
        "now rates held-out codes real with probability"
        in page.locator('[data-testid="stAlertContentInfo"]').first.inner_text()
    )
    index = page.evaluate(HOVER_A_CODE)
    page.get_by_text(f"Held-out image #{index}").wait_for(timeout=30_000)
    assert_no_errors(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "slow-motion.png"), full_page=True)


def test_a_failure_preset_shows_its_health_message(streamlit_app, page):
    url = streamlit_app("explorer/app.py", env={"AAE_EXPLORER_CHECKPOINTS": tempfile.mkdtemp()})
    page.goto(url + "/?epochs=1000")
    page.get_by_text("Failures on purpose").click()
    page.get_by_role("button", name="Prior scale mismatch").click()
    page.get_by_text("watch for codes drifting off the prior").wait_for(timeout=30_000)
    warning = page.locator('[data-testid="stAlertContentWarning"]', has_text="Codes are drifting off the prior")
    warning.first.wait_for(timeout=120_000)
    assert "noise floor" in warning.first.inner_text()
    assert_no_errors(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "health-drift.png"), full_page=True)
