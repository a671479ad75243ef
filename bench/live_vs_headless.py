"""Training throughput with the live view open in a real browser vs with no page attached, in the same run,
and the page's time to first meaningful plot.

    flock /tmp/aae-cpu.lock python -m bench.live_vs_headless   # a table; writes bench/results/live_vs_headless.json

One server, one pair of jobs (the default page: an AAE and a VAE on mnist5k; epochs=1000 so they never pause;
an empty checkpoint folder so they train from scratch):
  1. open the page in chromium (time to first plot, cold server: until the live scatter has codes), warm up;
  2. live window: read the step counters, keep the page open for WINDOW_S s (the live fragment refreshing
     every second, chromium drawing it on the same cores), read them again;
  3. headless window: navigate away (the session ends; the grace period keeps its jobs training), wait
     WINDOW_S s, open the same URL again (its owner token re-attaches the jobs) and read the counters;
  4. live and headless once more (ABAB), so drift from other load on the machine averages out;
  5. time to first plot with a warm server: a second, new session.
Samples/s of a window = steps between the two reads x batch size / seconds between them.
"""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.harness import VIEWPORT, launch_chromium, serve_streamlit

ROOT = Path(__file__).resolve().parent.parent

WINDOW_S = 30.0
WARMUP_S = 8.0
BATCH = 100
CODE_POINTS = """() => [...document.querySelectorAll('.js-plotly-plot')].some(gd => (gd._fullData || [])
    .some(t => t.type === 'scattergl' && t.name !== 'prior samples' && t.x && t.x.length > 0))"""


def read_steps(page) -> tuple[float, list[int]]:
    """(time, the step counters of the model panels) once the panels are drawn."""
    metrics = page.locator('[data-testid="stMetric"]').filter(has_text=re.compile(r"^step"))
    metrics.nth(1).wait_for(timeout=60_000)
    values = metrics.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return time.monotonic(), [int(v.replace(",", "")) for v in values]


def open_page(page, url: str) -> float:
    """Navigate and return seconds until the live scatter shows codes."""
    t0 = time.monotonic()
    page.goto(url)
    page.wait_for_function(CODE_POINTS, timeout=120_000, polling=50)
    return time.monotonic() - t0


def rates(a: tuple[float, list[int]], b: tuple[float, list[int]]) -> list[float]:
    return [(sb - sa) * BATCH / (b[0] - a[0]) for sa, sb in zip(a[1], b[1])]


def main() -> None:
    env = {"AAE_EXPLORER_CHECKPOINTS": tempfile.mkdtemp(), "AAE_EXPLORER_GRACE_S": "600"}
    windows = []
    with serve_streamlit("explorer/app.py", env=env) as url, sync_playwright() as pw, launch_chromium(pw) as browser:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        cold = open_page(page, url + "/?epochs=1000")
        own_url = page.url  # now carries ?owner=..., the token that re-attaches
        time.sleep(WARMUP_S)
        for _ in range(2):
            start = read_steps(page)
            time.sleep(WINDOW_S)
            windows.append(("live", rates(start, read_steps(page))))
            start = read_steps(page)
            page.goto("about:blank")
            time.sleep(WINDOW_S)
            page.goto(own_url)
            windows.append(("headless", rates(start, read_steps(page))))
        warm = open_page(browser.new_context(viewport=VIEWPORT).new_page(), url + "/?epochs=1000")

    names = ("AAE", "VAE")
    mean = {kind: [sum(r[i] for k, r in windows if k == kind) / 2 for i in range(2)] for kind in ("live", "headless")}
    ratio = [mean["live"][i] / mean["headless"][i] for i in range(2)]
    total_ratio = sum(mean["live"]) / sum(mean["headless"])
    print(f"{'window':<10}" + "".join(f"{n + ' samples/s':>18}" for n in names))
    for kind, r in windows:
        print(f"{kind:<10}" + "".join(f"{v:>18,.0f}" for v in r))
    print(f"{'live/headless':<14}" + "".join(f"{v:>14.1%}" for v in ratio) + f"   (both models: {total_ratio:.1%})")
    print(f"time to first plot: cold server {cold:.1f} s, warm server {warm:.1f} s")
    out = ROOT / "bench" / "results" / "live_vs_headless.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "windows": windows,
                "mean_samples_per_s": mean,
                "live_over_headless": dict(zip(names, ratio)),
                "live_over_headless_total": total_ratio,
                "time_to_first_plot_s": {"cold": cold, "warm": warm},
                "window_s": WINDOW_S,
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
