"""Plotly figures that refresh in place: the app's one way to draw a chart.

`st.plotly_chart` gives an element an id derived from its figure, so every refresh of a live plot mounts a new
chart: a fresh Plotly.newPlot and, for the WebGL scatters, a fresh WebGL context each second. In the browser that
took about one core of a 2-core machine, away from training (bench/live_vs_headless.py). This component keeps one
chart per key and updates it with `Plotly.react`, which reuses the DOM and the WebGL context.

plotly.js comes from the installed plotly package (nothing is downloaded): it is copied into explorer/static/ and
served by Streamlit's static file serving (`server.enableStaticServing`, on in .streamlit/config.toml). Where that
is off, or the copy cannot be written, charts fall back to `st.plotly_chart`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import plotly.io as pio
import plotly.offline
import streamlit as st

from aae_core.files import write_atomic

_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"  # Streamlit serves the main script's static/ folder at app/static/
PLOTLY_FILE = "plotly.min.js"
# No plotly logo link and no "Share chart" (upload to Plotly Cloud) button: nothing leaves this server in one click.
CONFIG = {
    "displaylogo": False,
    "showSendToCloud": False,
    "modeBarButtonsToRemove": ["sendChartToCloud"],
    "responsive": True,
}

_chart_component = st.components.v2.component(
    "aae_explorer.chart",
    html='<div class="aae-chart"></div>',
    js=(_HERE / "charts.js").read_text(),
    isolate_styles=False,  # plotly puts its CSS in the document head
)


@functools.cache
def plotly_js_served() -> bool:
    """Whether the browser can fetch plotly.js from app/static/: static serving is on and the file is in place
    (copied from the installed plotly package, atomically, when missing or from another plotly version)."""
    if not st.get_option("server.enableStaticServing"):
        return False
    source = plotly.offline.get_plotlyjs()
    target = STATIC_DIR / PLOTLY_FILE
    try:
        if not target.is_file() or target.read_text(encoding="utf-8") != source:
            STATIC_DIR.mkdir(exist_ok=True)
            write_atomic(target, source.encode("utf-8"))
    except OSError:
        return False
    return True


def plotly_url() -> str:
    """Where the browser finds plotly.js, under the server's base URL path."""
    base = st.get_option("server.baseUrlPath").strip("/")
    return "/" + (base + "/" if base else "") + f"app/static/{PLOTLY_FILE}"


def preload_plotly() -> None:
    """Have the browser fetch plotly.js now (an empty element in the sidebar), ahead of the first chart."""
    if plotly_js_served():
        with st.sidebar:
            _chart_component(key="plotly-preload", data={"figure": None, "plotly_url": plotly_url()})


def plotly_chart(figure: dict, *, key: str, hover: bool = False) -> None:
    """Draw a figure (a plain dict of data and layout) under `key`; the next call with the same key updates it in
    place. Arrays are sent as typed base64 (plotly's JSON encoding), not as lists of numbers. With `hover`, the
    browser reports the customdata of the point under the pointer (`hovered`)."""
    if not plotly_js_served():
        st.plotly_chart(figure, key=key, config=CONFIG)
        return
    spec = pio.to_json(figure, validate=False)
    data = {"figure": spec, "config": CONFIG, "plotly_url": plotly_url(), "height": figure["layout"].get("height", 450)}
    if hover:
        _chart_component(key=key, data=data | {"hover": True}, on_hover_change=lambda: None)
    else:
        _chart_component(key=key, data=data)


def hovered(key: str) -> int | None:
    """The customdata (an integer: a code's index) of the point last hovered on the chart drawn under `key`."""
    value = (st.session_state.get(key) or {}).get("hover")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
