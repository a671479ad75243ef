"""The browser harness: Streamlit servers on free ports, and the system's headless chromium under Playwright.

Plain context managers, shared by the browser tests' fixtures (tests/browser/conftest.py) and by the bench
scripts that drive a browser, which import this module as `tests.browser.harness` (run them from the repository
root as `python -m bench.<name>`). Playwright cannot download browsers here, so this drives Debian's
/usr/bin/chromium.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
            wait_healthy(proc, url, timeout, log)
            yield url
        finally:
            stop_server(proc)


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float, log) -> None:
    """Return once `url` answers its health check; raise with the tail of `log` if the server exits first."""
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


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it after 10 s."""
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
