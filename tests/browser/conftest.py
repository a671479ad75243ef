"""Browser-test fixtures: Streamlit servers on free ports, and the system's headless chromium under Playwright.

Use them from any test under tests/browser/:

    @pytest.mark.browser
    def test_app(streamlit_app, page):
        page.goto(streamlit_app("explorer/app.py"))      # started once per session, killed at the end
        page.get_by_text("Train").wait_for()

`serve_streamlit` and `launch_chromium` are plain context managers too, for scripts outside pytest
(bench/bench_pad.py uses them). Playwright cannot download browsers here, so this drives Debian's
/usr/bin/chromium; without it, every test using `browser` or `page` is skipped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_streamlit(
    script: str | Path,
    *,
    timeout: float = 60,
    env: dict | None = None,
    cwd: Path = ROOT,
    address: str | None = "127.0.0.1",
) -> Iterator[str]:
    """Run `streamlit run script` headless on a free local port (from `cwd`; `address=None` leaves the address to
    Streamlit's config); yield its URL once healthy; kill it after."""
    script = (ROOT / script).resolve()
    if not script.is_file():
        raise FileNotFoundError(f"streamlit script {script} does not exist")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        *(["--server.address", address] if address else []),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    # The scripts import aae_core and explorer from the checkout, installed or not.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **(env or {})}
    with tempfile.TemporaryFile() as log:
        # A session of its own, so the kill below reaches streamlit's children and nothing else.
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_healthy(proc, url, timeout, log)
            yield url
        finally:
            _stop(proc)


def _wait_healthy(proc: subprocess.Popen, url: str, timeout: float, log) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(
                f"streamlit exited with {proc.returncode}: {log.read().decode(errors='replace')[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit at {url} not healthy after {timeout:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def launch_chromium(playwright):
    """Headless /usr/bin/chromium through Playwright (whose own browser downloads are unavailable here)."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def streamlit_app() -> Iterator[Callable[[str | Path], str]]:
    """Factory: streamlit_app("path/relative/to/repo.py", env=...) -> URL of a server for it (one per script and
    environment per session)."""
    with ExitStack() as stack:
        urls: dict[tuple, str] = {}

        def start(script: str | Path, **kwargs) -> str:
            key = ((ROOT / script).resolve(), tuple(sorted((kwargs.get("env") or {}).items())))
            if key not in urls:
                urls[key] = stack.enter_context(serve_streamlit(key[0], **kwargs))
            return urls[key]

        yield start


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the session; skips when /usr/bin/chromium is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, launch_chromium(pw) as b:
        yield b


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test, with a wide viewport so side-by-side layouts stay side by side."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()
