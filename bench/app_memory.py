"""Resident memory of the running app server with two browser sessions, each training an AAE and a VAE.

    flock /tmp/aae-cpu.lock python -m bench.app_memory      # prints MiB, writes bench/results/app_memory.json

It measures the whole `streamlit run explorer/app.py` process: Streamlit, plotly figures, the registry and four
live jobs, with the live view open in two sessions.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.live_vs_headless import open_page, read_steps
from tests.browser.harness import VIEWPORT, launch_chromium, serve_streamlit

ROOT = Path(__file__).resolve().parent.parent

SETTLE_S = 40.0
TARGET_MB = 1536


def server_rss_mb(port: str) -> float:
    """Resident memory (MiB) of the streamlit process serving `port`, found by its command line."""
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            if b"streamlit" in b" ".join(cmd) and port.encode() in cmd:
                status = (proc / "status").read_text()
                return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024
        except (OSError, StopIteration):
            continue
    raise RuntimeError(f"no streamlit process serving port {port}")


def main() -> None:
    env = {"AAE_EXPLORER_CHECKPOINTS": tempfile.mkdtemp()}
    with serve_streamlit("explorer/app.py", env=env) as url, sync_playwright() as pw, launch_chromium(pw) as browser:
        port = url.rsplit(":", 1)[1]
        idle = server_rss_mb(port)
        pages = [browser.new_context(viewport=VIEWPORT).new_page() for _ in range(2)]
        for page in pages:
            open_page(page, url + "/?epochs=1000")
        samples = []
        end = time.monotonic() + SETTLE_S
        while time.monotonic() < end:
            samples.append(server_rss_mb(port))
            time.sleep(2)
        steps = [read_steps(p)[1] for p in pages]
    result = {
        "idle_server_mb": round(idle, 1),
        "two_sessions_peak_mb": round(max(samples), 1),
        "two_sessions_last_mb": round(samples[-1], 1),
        "target_mb": TARGET_MB,
        "steps_per_session": steps,
        "settle_s": SETTLE_S,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "app_memory.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
