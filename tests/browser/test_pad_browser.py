"""The latent pad in a real chromium: the image follows the drag before release, and Python gets the release point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "artifacts" / "pad_mid_drag.png"
PANEL = '.lp-panel[data-model="{}"]'
SERVER_Z = '.st-key-pad-server [data-testid="stCode"] code'

pytestmark = pytest.mark.browser


def images(page) -> dict[str, str]:
    """The live decoded image of each pad, as PNG data URLs."""
    return {name: page.locator(f"{PANEL.format(name)} canvas.lp-image").evaluate("c => c.toDataURL()")
            for name in ("AAE", "VAE")}


def server_z(page) -> dict[str, list[float]]:
    return json.loads(page.locator(SERVER_Z).inner_text())


def test_drag_decodes_in_the_browser_and_release_reaches_python(streamlit_app, page):
    page.goto(streamlit_app("tests/browser/pad_page.py"))
    page.wait_for_function("window.__padStats && window.__padStats.ready && window.__padStats.weightLoads >= 2",
                           timeout=30_000)
    box = page.locator(f"{PANEL.format('AAE')} canvas.lp-overlay").bounding_box()
    x, y = box["x"] + 0.25 * box["width"], box["y"] + 0.7 * box["height"]

    page.mouse.move(x, y)
    page.mouse.down()
    seen = [images(page)]
    for step in range(1, 9):
        frames = page.evaluate("window.__padStats.frames")
        x, y = x + 0.05 * box["width"], y - 0.04 * box["height"]
        page.mouse.move(x, y)
        page.wait_for_function(f"window.__padStats.frames > {frames}")
        seen.append(images(page))
        if step == 4:
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=SCREENSHOT)
            print(f"mid-drag screenshot: {SCREENSHOT}")
    # Every step repainted both pads (they are linked) while the button was still down, and nothing
    # has reached Python yet: it decodes only what is released.
    for name in ("AAE", "VAE"):
        assert len({frame[name] for frame in seen}) == len(seen), f"{name} image did not change on every step"
    assert page.locator(SERVER_Z).count() == 0

    page.mouse.up()
    x0, x1, y0, y1 = page.evaluate("window.__padStats.range")
    want = [x0 + (x - box["x"]) / box["width"] * (x1 - x0), y1 - (y - box["y"]) / box["height"] * (y1 - y0)]
    resolution = (x1 - x0) / box["width"]          # data units per CSS pixel
    page.locator(SERVER_Z).wait_for(timeout=10_000)
    got = server_z(page)
    for name in ("AAE", "VAE"):
        assert got[name] == pytest.approx(want, abs=resolution), name

    # The live view keeps refreshing (a fragment with run_every=1): the point survives, and the
    # weights, whose version did not change, are not sent again.
    updates, loads = page.evaluate("[window.__padStats.updates, window.__padStats.weightLoads]")
    page.wait_for_function(f"window.__padStats.updates >= {updates + 2}", timeout=10_000)
    assert page.evaluate("window.__padStats.points.AAE") == pytest.approx(want, abs=resolution)
    assert server_z(page) == got
    assert page.evaluate("window.__padStats.weightLoads") == loads

    # A page that lost its decoders asks once, and gets them back on the next refresh.
    requests = page.evaluate("window.__padStats.dropDecoders(), window.__padStats.weightRequests")
    page.wait_for_function(f"window.__padStats.weightLoads === {loads + 2}", timeout=10_000)
    assert page.evaluate("window.__padStats.weightRequests") == requests + 1


def test_pins_path_strip_and_unlinked_pads(streamlit_app, page):
    page.goto(streamlit_app("tests/browser/pad_page.py"))
    page.wait_for_function("window.__padStats && window.__padStats.ready && window.__padStats.weightLoads >= 2",
                           timeout=30_000)
    aae, vae = (page.locator(f"{PANEL.format(n)} canvas.lp-overlay").bounding_box() for n in ("AAE", "VAE"))
    page.mouse.click(aae["x"] + 0.3 * aae["width"], aae["y"] + 0.3 * aae["height"])
    page.get_by_role("button", name="Pin point").click()
    page.locator(f"{PANEL.format('AAE')} .lp-pins canvas.lp-thumb").wait_for()

    # Dragging the point away draws the pin -> point strip, and the strip follows the drag.
    strip = page.locator(f"{PANEL.format('AAE')} .lp-strip canvas")
    page.mouse.move(aae["x"] + 0.5 * aae["width"], aae["y"] + 0.5 * aae["height"])
    page.mouse.down()
    strips = []
    for step in range(3):
        frames = page.evaluate("window.__padStats.frames")
        page.mouse.move(aae["x"] + (0.55 + 0.1 * step) * aae["width"], aae["y"] + 0.6 * aae["height"])
        page.wait_for_function(f"window.__padStats.frames > {frames}")
        strips.append(strip.evaluate("c => c.toDataURL()"))
    page.mouse.up()
    assert len(set(strips)) == 3
    assert strip.evaluate("c => [c.width, c.height]") == [280, 28]

    # Unlinked, a drag on the VAE pad moves only the VAE point; Python sees the two points apart.
    page.get_by_label("link pads").uncheck()
    page.mouse.click(vae["x"] + 0.8 * vae["width"], vae["y"] + 0.2 * vae["height"])
    page.wait_for_function("() => { const p = window.__padStats.points; return p.AAE[0] !== p.VAE[0]; }")
    page.wait_for_function(f"() => {{ const t = document.querySelector('{SERVER_Z}'); "
                           "if (!t) return false; const z = JSON.parse(t.textContent); return z.AAE[0] !== z.VAE[0]; }",
                           timeout=10_000)
    points = page.evaluate("window.__padStats.points")
    got = server_z(page)
    for name in ("AAE", "VAE"):
        assert got[name] == pytest.approx(points[name], abs=1e-4)


def test_decoder_the_browser_cannot_run_is_decoded_on_release(streamlit_app, page):
    page.goto(streamlit_app("tests/browser/pad_page.py") + "/?fallback=1")
    page.wait_for_function("window.__padStats && window.__padStats.ready && window.__padStats.weightLoads >= 1",
                           timeout=30_000)
    vae = page.locator(PANEL.format("VAE"))
    assert "decoded on the server" in vae.locator(".lp-mode").inner_text()
    box = page.locator(f"{PANEL.format('AAE')} canvas.lp-overlay").bounding_box()
    page.mouse.click(box["x"] + 0.6 * box["width"], box["y"] + 0.4 * box["height"])
    server_image = vae.locator("img.lp-server-image")
    page.wait_for_function("img => img.src.startsWith('data:image/png')", arg=server_image.element_handle(),
                           timeout=10_000)
    assert server_image.evaluate("img => img.complete && img.naturalWidth") == 28
    assert vae.locator("canvas.lp-image").is_hidden()
