"""The draw pad: draw a prior with the pointer, strokes and clicked points on the latent plane, with the models'
codes drawn over it as they train.

The browser keeps the strokes while the pointer moves (draw_pad.js) and sends the whole drawing on each
release; `commit` (its callback, or `sync` on the next run) turns it into the `points` setting
(aae_core.drawn_prior's text, simplified to fit a share link) or, for a drawing that is not a prior yet
(empty, one point), keeps the reason to show. AppTest cannot
run the JS; fake a release by setting the component's state before a run::

    at.session_state["draw"] = {"drawing": {"strokes": [[[0, 0], [5, 5]]], "tags": [None]}}
    at.run()
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from aae_core import drawn_prior
from aae_core.config import AAEError

HALF_RANGE = 15.0  # the pad spans ±15 latent units: three std of the recipe's priors (std 5, aae_core.settings)
PROBLEM = "_draw_problem"  # why the last drawing is not a prior yet, if it is not
RAW = "_draw_raw"  # that drawing as sent, so the pad still shows it

_HERE = Path(__file__).resolve().parent
_component = st.components.v2.component(
    "aae_explorer.draw_pad",
    html='<div class="dp-root"></div>',
    css=(_HERE / "draw_pad.css").read_text(),
    js=(_HERE / "draw_pad.js").read_text(),
    isolate_styles=False,
)


def drawing_of(raw: Any) -> drawn_prior.Drawing:
    """A checked drawing from what the browser sent ({"strokes": [[[x, y], ...], ...], "tags": [...]})."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("strokes"), list):
        raise AAEError("drawing: not a list of strokes")
    strokes, tags = raw["strokes"], raw.get("tags")
    if len(strokes) > drawn_prior.MAX_POINTS or not isinstance(tags, (list, type(None))):
        raise AAEError(f"drawing: at most {drawn_prior.MAX_POINTS:,} strokes, each with a class tag or null")
    try:
        return drawn_prior.Drawing.of(strokes, tags)
    except (TypeError, ValueError) as e:
        if isinstance(e, AAEError):
            raise
        raise AAEError("drawing: each stroke must be a list of [x, y] number pairs") from None


def commit(key: str) -> None:
    """The pad's release callback: the drawing becomes the `points` setting, or its problem is kept to show."""
    raw = (st.session_state.get(key) or {}).get("drawing")
    st.session_state[RAW] = raw
    try:
        st.session_state["points"] = drawn_prior.encode_short(drawing_of(raw))
        st.session_state[PROBLEM] = None
    except AAEError as e:
        st.session_state["points"] = ""
        st.session_state[PROBLEM] = str(e)


def sync(key: str) -> None:
    """Commit a drawing the callback did not see (AppTest runs no component callbacks); call before the widgets
    that depend on the drawing."""
    if (st.session_state.get(key) or {}).get("drawing") != st.session_state.get(RAW):
        commit(key)


def _b64_xy(xy: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(xy[:, :2], dtype="<f4").tobytes()).decode("ascii")


def shown_strokes(points: str) -> tuple[list, list]:
    """The strokes and tags the pad shows: the `points` setting's drawing, else the last one sent (a lone point)."""
    if points:
        try:
            d = drawn_prior.decode(points)
            return [s.tolist() for s in d.strokes], list(d.tags)
        except AAEError:
            pass
    raw = st.session_state.get(RAW)
    try:
        return [np.asarray(s, dtype=np.float64).reshape(-1, 2).tolist() for s in raw["strokes"]], list(raw["tags"])
    except (TypeError, ValueError, KeyError):
        return [], []


def draw_pad(points: str, codes: Mapping[str, np.ndarray], tag: int | None, *, key: str) -> None:
    """Render the pad: the drawing `points` (or the last one sent), `codes` per model over it, new strokes tagged
    with class `tag` (None: untagged)."""
    strokes, tags = shown_strokes(points)
    extent = max((abs(v) for s in strokes for p in s for v in p), default=0.0)
    half = max(HALF_RANGE, 1.05 * extent)
    data = {
        "strokes": strokes,
        "tags": tags,
        "tag": tag,
        "range": [-half, half],
        "codes": {name: _b64_xy(np.asarray(c, dtype=np.float64)) for name, c in codes.items()},
    }
    _component(key=key, data=data, on_drawing_change=lambda: commit(key))
