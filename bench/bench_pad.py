"""Benchmark the latent pad in headless chromium: how fast the decoded image follows a scripted drag,
and what a live refresh costs on the websocket with and without new weights.

    python -m bench.bench_pad        # prints a table, writes bench/results/pad.json

For each size preset (explorer 2-256-256-784, paper 2-1000-1000-784; AAE and VAE pads, linked, so
every frame runs both decoders) it drags the AAE pad's point along a Lissajous curve with pointer
moves requested at 120 Hz, faster than the display, driven two ways: Playwright's mouse (real input
through chromium, but each move is a round trip, which caps the move rate) and pointer events the
page dispatches itself (no such cap: the display's frame rate is the limit). It reads the pad's
own timing (window.__padStats):
- frames/s: frames that decoded and painted a pointer move, per second of drag (a 60 Hz display caps it at 60);
- latency: from a pointer event's timestamp to the end of the frame that painted it (p50, p95);
- frame work: decode + paint time inside that frame, i.e. what bounds frames/s on slower machines.
Each is measured twice: with the weights' version fixed, and "live", with the version changing on
every fragment rerun (run_every=1) as during training. The refresh cost is the mean websocket bytes
the browser receives per rerun in each case (measured on a separate page: logging frames through
Playwright slows the browser down).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from tests.browser.harness import launch_chromium, serve_streamlit

ROOT = Path(__file__).resolve().parent.parent

PAGE = "tests/browser/pad_page.py"
SIZES = {"explorer": "2-256-256-784", "paper": "2-1000-1000-784"}
DRAG_S = 3.0
MOVE_HZ = 120
REFRESH_WINDOW_S = 10.0  # longer than the ~5 s between paper-size weight copies in live mode
OUT = ROOT / "bench" / "results" / "pad.json"


def open_pad(browser, url: str, log_frames: bool = False) -> tuple:
    """A new page on url, once both pads have their decoders; optionally logging websocket frames as ±bytes
    (sent negative). Logging costs: Playwright copies every frame's payload, so drags are timed without it."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    frames: list[int] = []
    if log_frames:
        page.on(
            "websocket",
            lambda ws: (
                ws.on("framereceived", lambda payload: frames.append(len(payload))),
                ws.on("framesent", lambda payload: frames.append(-len(payload))),
            ),
        )
    page.goto(url)
    page.wait_for_function(
        "window.__padStats && window.__padStats.ready && window.__padStats.weightLoads >= 2", timeout=60_000
    )
    return page, frames


def drag(page) -> dict:
    """Drag the AAE pad's point for DRAG_S seconds and summarise the pad's frame timings."""
    box = page.locator('.lp-panel[data-model="AAE"] canvas.lp-overlay').bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, 0.4 * box["width"]
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.evaluate("window.__padStats.reset()")
    t0 = time.perf_counter()
    moves = 0
    while (t := time.perf_counter() - t0) < DRAG_S:
        page.mouse.move(cx + r * math.sin(2 * math.pi * t / 1.5), cy + r * math.sin(2 * math.pi * t / 1.1))
        moves += 1
        time.sleep(max(0.0, t0 + moves / MOVE_HZ - time.perf_counter()))
    stats = page.evaluate(
        "({frames: window.__padStats.frames, decodeMs: window.__padStats.decodeMs,"
        " latencyMs: window.__padStats.latencyMs})"
    )
    elapsed = time.perf_counter() - t0
    page.mouse.up()
    return summary(moves, stats["frames"], elapsed, stats["latencyMs"], stats["decodeMs"])


# Pointer events at MOVE_HZ dispatched by the page itself, so the rate is not bounded by Playwright's
# per-event round trip: what remains is the pad's own limit (one decode and paint per display frame).
IN_PAGE_DRAG = """async ([durationMs, hz]) => {
  const target = document.querySelector('.lp-panel[data-model="AAE"] canvas.lp-overlay');
  const r = target.getBoundingClientRect();
  const at = (t) => ({clientX: r.x + r.width * (0.5 + 0.4 * Math.sin(2 * Math.PI * t / 1500)),
                      clientY: r.y + r.height * (0.5 + 0.4 * Math.sin(2 * Math.PI * t / 1100)),
                      pointerId: 1, pointerType: "mouse", bubbles: true, buttons: 1});
  target.dispatchEvent(new PointerEvent("pointerdown", at(0)));
  window.__padStats.reset();
  const t0 = performance.now();
  let moves = 0;
  await new Promise((done) => {
    const timer = setInterval(() => {
      const t = performance.now() - t0;
      if (t >= durationMs) { clearInterval(timer); done(); return; }
      target.dispatchEvent(new PointerEvent("pointermove", at(t)));
      moves += 1;
    }, 1000 / hz);
  });
  await new Promise(requestAnimationFrame);
  const elapsed = performance.now() - t0;
  target.dispatchEvent(new PointerEvent("pointerup", at(elapsed)));
  const s = window.__padStats;
  return {moves, elapsedMs: elapsed, frames: s.frames, decodeMs: s.decodeMs, latencyMs: s.latencyMs};
}"""


def drag_in_page(page) -> dict:
    """Drag the AAE pad's point with pointer events the page dispatches itself, and summarise the frame timings."""
    s = page.evaluate(IN_PAGE_DRAG, [DRAG_S * 1000, MOVE_HZ])
    return summary(s["moves"], s["frames"], s["elapsedMs"] / 1000, s["latencyMs"], s["decodeMs"])


def summary(moves: int, frames: int, elapsed: float, latency_ms: list, work_ms: list) -> dict:
    lat, work = np.array(latency_ms), np.array(work_ms)
    return {
        "moves": moves,
        "move_hz": round(moves / elapsed, 1),
        "frames": frames,
        "frames_per_s": round(frames / elapsed, 1),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 2),
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 2),
        "frame_work_ms_p50": round(float(np.percentile(work, 50)), 2),
        "frame_work_ms_p95": round(float(np.percentile(work, 95)), 2),
    }


def bytes_per_refresh(page, frames: list[int]) -> float:
    """Mean websocket bytes received per rerun over REFRESH_WINDOW_S seconds (a rerun: a sent request, then replies)."""
    start = len(frames)
    page.wait_for_timeout(REFRESH_WINDOW_S * 1000)  # unlike time.sleep, lets Playwright deliver the frame events
    window = frames[start:]
    first = next(i for i, n in enumerate(window) if n < 0)  # count from the first request on
    reruns = sum(n < 0 for n in window)
    return sum(n for n in window[first:] if n > 0) / reruns


def measure(browser, url: str, size: str) -> dict:
    """Drag timings with a fixed and with a live (every refresh) weights version, and the bytes per refresh of each."""
    row = {"size": size, "decoder": SIZES[size]}
    for mode, query in (("fixed", ""), ("live", "&live=1")):
        page, _ = open_pad(browser, f"{url}/?size={size}{query}")
        row[mode] = {"playwright_mouse": drag(page), "in_page_events": drag_in_page(page)}
        page.close()
        page, frames = open_pad(browser, f"{url}/?size={size}{query}", log_frames=True)
        row[mode]["bytes_per_refresh"] = round(bytes_per_refresh(page, frames))
        page.close()
    return row


def main() -> None:
    with serve_streamlit(PAGE) as url, sync_playwright() as pw, launch_chromium(pw) as browser:
        results = [measure(browser, url, size) for size in SIZES]
        chromium = browser.version
    print(
        f"{'size':9} {'decoder':16} {'version':8} {'driver':17} {'moves/s':>7} {'frames/s':>8} {'lat p50':>8} "
        f"{'lat p95':>8} {'work p50':>9} {'work p95':>9} {'KB/refresh':>10}"
    )
    for r in results:
        for mode in ("fixed", "live"):
            for driver in ("playwright_mouse", "in_page_events"):
                m = r[mode][driver]
                print(
                    f"{r['size']:9} {r['decoder']:16} {mode:8} {driver:17} {m['move_hz']:7.1f} "
                    f"{m['frames_per_s']:8.1f} "
                    f"{m['latency_ms_p50']:6.1f}ms {m['latency_ms_p95']:6.1f}ms {m['frame_work_ms_p50']:7.2f}ms "
                    f"{m['frame_work_ms_p95']:7.2f}ms {r[mode]['bytes_per_refresh'] / 1e3:10.1f}"
                )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "command": "python -m bench.bench_pad",
                "chromium": chromium,
                "machine": platform.platform(),
                "cpu_count": os.cpu_count(),
                "drag_s": DRAG_S,
                "move_hz": MOVE_HZ,
                "decoders_per_frame": 2,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
