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
# Where, on the page, the first code of the slow-motion chart sits (the pointer goes there: a real hover).
A_CODE = """() => {
    const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => (g._fullData || []).some(
        t => t.type === 'contour'));
    gd.scrollIntoView({block: 'center'});
    const t = gd._fullData.find(t => t.customdata && t.customdata.length);
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return {x: box.left + xa._offset + xa.l2p(t.x[0]), y: box.top + ya._offset + ya.l2p(t.y[0])};
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
    where = page.evaluate(A_CODE)
    page.mouse.move(where["x"] - 3, where["y"] - 3)
    page.mouse.move(where["x"], where["y"], steps=3)
    page.get_by_text("Held-out image #").wait_for(timeout=30_000)  # that code, or one drawn on top of it
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
