"""The latent pad in a real chromium: the image follows the drag before release, and Python gets the release point."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "artifacts" / "pad_mid_drag.png"
PANEL = '.lp-panel[data-model="{}"]'
SERVER = ".st-key-pad-server"
SERVER_Z = f'{SERVER} [data-testid="stMarkdownContainer"] strong'  # "AAE" in "AAE at z = (...)"

pytestmark = pytest.mark.browser


def images(page) -> dict[str, str]:
    """The live decoded image of each pad, as PNG data URLs."""
    return {
        name: page.locator(f"{PANEL.format(name)} canvas.lp-image").evaluate("c => c.toDataURL()")
        for name in ("AAE", "VAE")
    }


def server_z(page) -> dict[str, list[float]]:
    """The released point as the server shows it: "AAE at z = (0.500, -1.000)" per model."""
    text = page.locator(SERVER).inner_text()
    return {name: [float(v) for v in z.split(",")] for name, z in re.findall(r"(\w+) at z = \(([^)]*)\)", text)}


def wait_for_server_z(page) -> None:
    """Wait until the server shows the released point of both models: Streamlit paints its elements one at a
    time, so the AAE's line can be on the page a moment before the VAE's."""
    page.wait_for_function(
        f"(document.querySelector('{SERVER}')?.innerText.match(/\\w+ at z = \\(/g) || []).length >= 2",
        timeout=10_000,
    )


def data_area(page, name: str) -> dict[str, float]:
    """The pad's data area (inside the margins that hold its tick labels), in page coordinates."""
    box = page.locator(f"{PANEL.format(name)} canvas.lp-overlay").bounding_box()
    area = page.evaluate("window.__padStats.area")
    return {"x": box["x"] + area["left"], "y": box["y"] + area["top"], "width": area["size"], "height": area["size"]}


def test_drag_decodes_in_the_browser_and_release_reaches_python(streamlit_app, page):
    page.goto(streamlit_app("tests/browser/pad_page.py"))
    page.wait_for_function(
        "window.__padStats && window.__padStats.ready && window.__padStats.weightLoads >= 2", timeout=30_000
    )
    box = data_area(page, "AAE")
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
    resolution = (x1 - x0) / box["width"]  # data units per CSS pixel
    wait_for_server_z(page)
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
    page.wait_for_function(
        "window.__padStats && window.__padStats.ready && window.__padStats.weightLoads >= 2", timeout=30_000
    )
    aae, vae = (data_area(page, n) for n in ("AAE", "VAE"))
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
    page.wait_for_function(
        f"() => {{ const t = document.querySelector('{SERVER}'); if (!t) return false; "
        r"const z = [...t.innerText.matchAll(/at z = \(([^,]*),/g)].map(m => m[1]); "
        "return z.length === 2 && z[0] !== z[1]; }",
        timeout=10_000,
    )
    points = page.evaluate("window.__padStats.points")
    got = server_z(page)
    for name in ("AAE", "VAE"):
        assert got[name] == pytest.approx(points[name], abs=6e-4), "shown to 3 decimals"


def test_decoder_the_browser_cannot_run_is_decoded_on_release(streamlit_app, page):
    page.goto(streamlit_app("tests/browser/pad_page.py") + "/?fallback=1")
    page.wait_for_function(
        "window.__padStats && window.__padStats.ready && window.__padStats.weightLoads >= 1", timeout=30_000
    )
    vae = page.locator(PANEL.format("VAE"))
    assert "decoded on the server" in vae.locator(".lp-mode").inner_text()
    box = data_area(page, "AAE")
    page.mouse.click(box["x"] + 0.6 * box["width"], box["y"] + 0.4 * box["height"])
    server_image = vae.locator("img.lp-server-image")
    page.wait_for_function(
        "img => img.src.startsWith('data:image/png')", arg=server_image.element_handle(), timeout=10_000
    )
    assert server_image.evaluate("img => img.complete && img.naturalWidth") == 28
    assert vae.locator("canvas.lp-image").is_hidden()


def test_the_pad_is_finished_before_and_after_the_first_click(streamlit_app, page):
    """Issue 14, item 14: no black boxes before a click, pads that use the page's width, tick labels inside their
    canvas, controls styled like Streamlit's, the hint in the page's font, the released point as words."""
    page.goto(streamlit_app("tests/browser/pad_page.py"))
    page.wait_for_function(
        "window.__padStats && window.__padStats.ready && window.__padStats.weightLoads >= 2", timeout=30_000
    )
    aae = page.locator(PANEL.format("AAE"))
    assert aae.locator("canvas.lp-image").is_hidden() and aae.locator(".lp-placeholder").is_visible()
    assert "monospace" not in aae.locator(".lp-readout").evaluate("e => getComputedStyle(e).fontFamily")
    width = page.locator(".lp-root").evaluate("e => e.clientWidth")
    area = page.evaluate("window.__padStats.area")
    assert area["size"] > 300 and area["size"] >= min(460, (width - 24) / 2 - 42 - 1), (area, width)
    canvas_w, canvas_h = page.evaluate("window.__padStats.canvasSize")
    boxes = page.evaluate("window.__padStats.labelBoxes")
    assert boxes and all(0 <= x0 and 0 <= y0 and x1 <= canvas_w and y1 <= canvas_h for x0, y0, x1, y1 in boxes), boxes
    body_font = page.evaluate("getComputedStyle(document.querySelector('.lp-root')).fontFamily")
    for control in (page.get_by_role("button", name="Pin point"), page.locator(".lp-path-from")):
        style = control.evaluate("e => [getComputedStyle(e).borderTopLeftRadius, getComputedStyle(e).fontFamily]")
        assert float(style[0].removesuffix("px")) >= 6 and style[1] == body_font, style
    accent = page.get_by_label("link pads").evaluate("e => getComputedStyle(e).accentColor")
    assert accent not in ("auto", ""), accent

    box = data_area(page, "AAE")
    page.mouse.click(box["x"] + 0.4 * box["width"], box["y"] + 0.4 * box["height"])
    # The pad repaints on the next animation frame, not inside the click: wait for it.
    aae.locator("canvas.lp-image").wait_for(state="visible", timeout=5_000)
    aae.locator(".lp-placeholder").wait_for(state="hidden", timeout=5_000)
    wait_for_server_z(page)
    assert page.locator(f'{SERVER} [data-testid="stCode"]').count() == 0, "no raw JSON dump"
    assert set(server_z(page)) == {"AAE", "VAE"}
