"""Issue 12, part 1 in a real chromium: draw a shape on the Draw tab with the mouse, train on it, and the AAE's codes
move towards the drawing (their mean distance to it falls) while the page shows no error. The view is saved as
docs/screenshots/draw-prior.png."""

from __future__ import annotations

import math
import re
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'

pytestmark = pytest.mark.browser


def distance(page, model: str) -> float | None:
    """The model's 'codes' mean distance to the drawing' metric, if shown."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=re.compile(rf"^{model}: codes' mean distance"))
    if not metric.count():
        return None
    return float(metric.locator('[data-testid="stMetricValue"]').inner_text())


def draw_heart(page, box: dict) -> None:
    """A heart with the mouse, as one stroke, over the middle of the pad."""
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] / 40
    pts = [(16 * math.sin(t) ** 3, 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
           for t in (2 * math.pi * i / 80 for i in range(81))]  # fmt: skip
    page.mouse.move(cx + r * pts[0][0], cy - r * pts[0][1])
    page.mouse.down()
    for x, y in pts[1:]:
        page.mouse.move(cx + r * x, cy - r * y, steps=2)
    page.mouse.up()


def test_drawn_prior_pulls_the_aae_codes_onto_the_drawing(streamlit_app, page):
    url = streamlit_app("explorer/app.py", env={"AAE_EXPLORER_CHECKPOINTS": tempfile.mkdtemp()})
    page.set_viewport_size({"width": 1400, "height": 1300})
    page.goto(url + "/?epochs=1000")
    page.get_by_role("tab", name="Draw a prior").click()
    canvas = page.locator(".dp-root canvas.dp-canvas")
    canvas.wait_for(timeout=90_000)
    draw_heart(page, canvas.bounding_box())
    train = page.get_by_role("button", name="Train on this drawing")
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => b.innerText.includes('Train on this drawing')"
        " && !b.disabled)",
        timeout=30_000,
    )
    train.click()
    deadline = time.monotonic() + 60
    while distance(page, "AAE") is None and time.monotonic() < deadline:
        time.sleep(0.5)
    first = distance(page, "AAE")
    assert first is not None, "the distance readout appears once the AAE trains on the drawing"
    # A fall of a fifth: on the shared 2-core machine 120 s gave 3.76 -> 2.67 (bench.draw_settle times the rest).
    deadline, now = time.monotonic() + 120, first
    while now > 0.8 * first and time.monotonic() < deadline:
        time.sleep(1)
        now = distance(page, "AAE") or now
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "draw-prior.png"), full_page=True)
    assert now <= 0.8 * first, f"the AAE's codes came no closer to the drawing: {first} -> {now}"
    assert "prior=points" in page.url and "draw=" in page.url, "the drawing is in the URL"
    errors = page.locator(ERRORS)
    assert errors.count() == 0, errors.all_inner_texts()
