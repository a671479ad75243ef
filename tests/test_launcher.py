"""`aae-explorer` starts the app with the project's Streamlit settings from any folder, listening on loopback only,
and passes further Streamlit options through (issue 15 item 8)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import tomllib

from explorer import launch
from tests.browser.harness import free_port, stop_server, wait_healthy

ROOT = Path(__file__).resolve().parent.parent

LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc/net/tcp{,6} write them


def listening(port: int) -> set[str]:
    """The local addresses (hex, as the kernel lists them) of sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_launcher_from_another_folder_listens_on_loopback_only(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env |= {"PYTHONPATH": str(ROOT), "AAE_EXPLORER_CHECKPOINTS": str(tmp_path)}
    # The user's own options pass through (and win): a port, headless mode.
    cmd = [
        sys.executable,
        "-m",
        "explorer.launch",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
    ]
    log = open(tmp_path / "log", "w+b")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", 60, log)
        addresses = listening(port)
        assert addresses and addresses <= LOOPBACK, f"listens on {addresses}, not loopback only"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/host-config", timeout=5) as r:
            assert r.status == 200
        static = f"http://127.0.0.1:{port}/app/static/"
        with pytest.raises(urllib.error.HTTPError) as e:  # static serving is on: the folder answers, a file 404s
            urllib.request.urlopen(static + "no-such-file.js", timeout=5)
        assert e.value.code == 404
    finally:
        stop_server(proc)
        log.close()


def test_launcher_passes_every_project_setting_and_lets_the_user_override():
    with open(ROOT / ".streamlit" / "config.toml", "rb") as f:
        config = tomllib.load(f)
    args = launch.command(["--server.port", "8600", "--server.address", "0.0.0.0"])
    assert args[:2] == ["run", str(ROOT / "explorer" / "app.py")]
    for section, options in config.items():
        for name in options:
            assert any(a.startswith(f"--{section}.{name}=") for a in args), f"{section}.{name} is passed"
    assert "--server.address=localhost" in args and args.index("--server.address=localhost") < args.index("0.0.0.0")
    assert "--runner.postScriptGC=false" in args


def test_console_script_is_declared():
    with open(ROOT / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts["aae-explorer"] == "explorer.launch:main"
