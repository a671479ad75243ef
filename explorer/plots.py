"""Plotly figure builders: codes over the prior, and loss curves. Pure functions of arrays (no Streamlit).

Figures are plain dicts (no validation pass), because the live view rebuilds them every second; explorer/charts.py
draws them.
"""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
import torch
from PIL import Image
from plotly.colors import qualitative

from aae_core.config import PriorConfig
from aae_core.priors import make_prior
from aae_core.settings import CATEGORICAL_KINDS

PALETTE = qualitative.D3 + qualitative.Alphabet  # D3 category10: the latent pad's colours too
PRIOR_COLOUR = "rgba(90, 90, 90, 0.35)"
MAX_CURVE_POINTS = 400  # loss histories are thinned to at most this many points, evenly spaced in steps
SMOOTHING = (0.0, 0.6, 0.9, 0.97)  # EMA weights the loss curves offer (0: raw)
GRID_COLOUR = "rgba(0, 0, 0, 0.08)"  # light on white, and darker (not white) over the prior's density
N_PRIOR_SAMPLES = 1500
DENSITY_PIXELS = 240  # the density image is n x n
NICE_STEPS = (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)  # axis half-widths, times a power of 10


@functools.lru_cache(maxsize=32)
def prior_samples(config: PriorConfig, n: int = N_PRIOR_SAMPLES) -> np.ndarray:
    """A fixed, seeded sample of the prior (the same points every refresh, so the overlay does not flicker)."""
    return make_prior(config).sample(n, generator=torch.Generator().manual_seed(1234)).numpy().astype(np.float64)


@functools.lru_cache(maxsize=32)
def labelled_prior_samples(config: PriorConfig, n: int = N_PRIOR_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """A fixed, seeded sample of a prior with label parts, as many from each part, and each sample's part."""
    prior = make_prior(config)
    labels = torch.arange(n) % prior.n_parts
    points = prior.sample(n, labels, generator=torch.Generator().manual_seed(1234)).numpy().astype(np.float64)
    return points, labels.numpy()


@functools.lru_cache(maxsize=32)
def prior_density(config: PriorConfig, n: int = DENSITY_PIXELS) -> tuple[str, float]:
    """A 2-D prior's density p(z) as banded contours in a transparent PNG (data URI), and the half-width of the
    square it covers. An image, not a contour trace: drawn once per prior, so a live refresh recomputes nothing.
    An approximate density (the swiss roll's, a band a few pixels wide) is shaded smoothly instead: contour lines
    a pixel apart read as hatching."""
    lim = extent(prior_samples(config))
    xs = np.linspace(-lim, lim, n)
    grid = torch.as_tensor(np.stack(np.meshgrid(xs, xs[::-1]), -1).reshape(-1, 2), dtype=torch.float32)  # top row first
    prior = make_prior(config)
    p = prior.log_prob(grid).exp().numpy().reshape(n, n)
    if prior.exact_density:
        # Bands every 15 % of the peak from 5 %, darker towards the modes; a line where the band changes.
        band = np.clip(np.floor((p / p.max() - 0.05) / 0.15) + 1, 0, 7).astype(np.int16)
        alpha = band * (0.5 * 255 / 7)
        edge = np.zeros_like(band, bool)
        edge[:, 1:] |= band[:, 1:] != band[:, :-1]
        edge[1:, :] |= band[1:, :] != band[:-1, :]
        alpha = np.where(edge, 150, alpha)
    else:
        alpha = np.sqrt(np.clip(p / p.max(), 0, 1)) * 150
    rgba = np.empty((n, n, 4), np.uint8)
    rgba[..., :3] = 90
    rgba[..., 3] = alpha.astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), lim


def extent(points: np.ndarray, q: float = 99.5) -> float:
    """Half-width of a square around the origin holding the bulk (q %) of the points, with a margin."""
    finite = points[np.isfinite(points).all(1)]
    return float(np.percentile(np.abs(finite), q) * 1.15) if len(finite) else 1.0


def view_limit(prior_points: np.ndarray, code_points: np.ndarray | None) -> float:
    """Axis half-width: the prior's extent, widened for codes outside it, but at most 4x (outliers don't squash it),
    rounded up to a step of NICE_STEPS, so the axes hold still while the codes move (and the browser does not redo
    their ticks every refresh)."""
    lim = extent(prior_points)
    if code_points is not None and len(code_points):
        lim = max(lim, min(extent(code_points, 99.0), 4 * lim))
    scale = 10.0 ** np.floor(np.log10(lim))
    return float(scale * next(s for s in NICE_STEPS if s * scale >= lim * (1 - 1e-9)))


def latent_scatter(
    points: np.ndarray | None,
    labels: np.ndarray | None,
    *,
    lim: float,
    title: str,
    prior_points: np.ndarray | None = None,
    density: tuple[str, float] | None = None,
    class_names: list[str] | None = None,
    axis_names: tuple[str, str] = ("z1", "z2"),
    height: int = 430,
    uirevision: str = "latent",
    prior_labels: np.ndarray | None = None,
) -> dict:
    """Held-out codes coloured by label, over the prior drawn as density contours (`prior_density`) or as samples;
    with `prior_labels` (label-conditioned training) each sample takes the colour of its part's class, so a class's
    codes can be seen landing on their own part or not. Each code carries its index (customdata) for hovering."""
    traces = []
    if prior_points is not None and prior_labels is not None:
        for c in np.unique(prior_labels):
            mask = prior_labels == c
            traces.append(
                {
                    "type": "scattergl",
                    "mode": "markers",
                    "x": prior_points[mask, 0],
                    "y": prior_points[mask, 1],
                    "marker": {"size": 3, "color": PALETTE[int(c) % len(PALETTE)], "opacity": 0.22},
                    "name": f"prior part {class_names[c] if class_names else c}",
                    "legendgroup": str(c),
                    "showlegend": False,
                    "hoverinfo": "skip",
                }
            )
    elif prior_points is not None:
        traces.append(
            {
                "type": "scattergl",
                "mode": "markers",
                "x": prior_points[:, 0],
                "y": prior_points[:, 1],
                "marker": {"size": 3, "color": PRIOR_COLOUR},
                "name": "prior samples",
                "hoverinfo": "skip",
            }
        )
    if points is not None:
        groups = (
            [(None, np.ones(len(points), bool))] if labels is None else [(c, labels == c) for c in np.unique(labels)]
        )
        for c, mask in groups:
            name = "codes" if c is None else (class_names[c] if class_names else str(c))
            colour = PALETTE[0 if c is None else int(c) % len(PALETTE)]
            traces.append(
                {
                    "type": "scattergl",
                    "mode": "markers",
                    "x": points[mask, 0],
                    "y": points[mask, 1],
                    "marker": {"size": 4, "color": colour, "opacity": 0.85},
                    "name": name,
                    "legendgroup": str(c),
                    "customdata": np.flatnonzero(mask).astype(np.int32),  # plotly.js has no int64 arrays
                    "hovertemplate": f"{name}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
                }
            )
    axis = {"range": [-lim, lim], "zeroline": False, "showgrid": True, "gridcolor": GRID_COLOUR}
    layout = {
        "title": {"text": title, "font": {"size": 14}},
        "height": height,
        "uirevision": uirevision,
        "margin": {"l": 40, "r": 10, "t": 36, "b": 36},
        "plot_bgcolor": "white",
        "xaxis": {**axis, "title": {"text": axis_names[0]}},
        "yaxis": {**axis, "title": {"text": axis_names[1]}, "scaleanchor": "x", "scaleratio": 1},
        "legend": {"itemsizing": "constant", "font": {"size": 11}},
    }
    if density is not None:
        image, half = density
        layout["images"] = [
            {
                "source": image,
                "xref": "x",
                "yref": "y",
                "x": -half,
                "y": half,
                "sizex": 2 * half,
                "sizey": 2 * half,
                "sizing": "stretch",
                "layer": "below",
            }
        ]
    return {"data": traces, "layout": layout}


def _thin(steps: np.ndarray) -> np.ndarray:
    """Indices of at most MAX_CURVE_POINTS entries evenly spaced in *steps* (the last of each of as many equal step
    bins; the last point always kept). By step, not by index: a loaded history (thinned when saved) followed by the
    live one (every step) then has the same density of points, so the curve keeps one texture across the join."""
    steps = np.asarray(steps, dtype=np.float64)
    n = len(steps)
    if n <= MAX_CURVE_POINTS:
        return np.arange(n)
    edges = np.linspace(steps[0], steps[-1], MAX_CURVE_POINTS + 1)
    bins = np.clip(np.searchsorted(edges, steps, side="right") - 1, 0, MAX_CURVE_POINTS - 1)
    return np.flatnonzero(np.append(bins[1:] != bins[:-1], True))


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average (bias-corrected, as TensorBoard's smoothing), skipping NaN entries (left NaN)."""
    out = np.full(len(values), np.nan)
    acc = norm = 0.0
    for i, v in enumerate(values):
        if np.isfinite(v):
            acc, norm = weight * acc + (1 - weight) * v, weight * norm + (1 - weight)
            out[i] = acc / norm
    return out


CURVES = {
    "aae": [
        ("recon", [("recon", "reconstruction (nats/image)")]),
        ("D / G loss", [("d_loss", "discriminator loss"), ("g_loss", "generator loss")]),
        ("D accuracy", [("d_acc", "discriminator accuracy")]),
    ],
    "vae": [("recon", [("recon", "reconstruction (nats/image)")]), ("KL", [("kl", "KL(q(z|x) ‖ p(z))")])],
    "ae": [("recon", [("recon", "reconstruction (nats/image)")])],
}
# The categorical AAEs record the same three (their D loss and accuracy: both discriminators, summed and averaged).
CURVES |= dict.fromkeys(CATEGORICAL_KINDS, CURVES["aae"])


def loss_curves(
    history: dict[str, np.ndarray],
    kind: str,
    *,
    diverged_at: int | None = None,
    smoothing: float = 0.0,
    height: int = 330,
    uirevision: str = "losses",
) -> dict:
    """Stacked panels sharing the step axis: recon, D/G loss, D accuracy (AAE), recon, KL (VAE) or recon (AE),
    each curve smoothed by an EMA of weight `smoothing` (0: raw). Phases a step skipped are gaps; a divergence is
    marked by a red line (the app also says so in words). At most 4 ticks per panel, so their labels never crowd."""
    panels = CURVES[kind]
    steps = np.asarray(history.get("step", []))
    keep = _thin(steps)
    gap = 0.08
    h = (1 - gap * (len(panels) - 1)) / len(panels)
    traces, layout = (
        [],
        {
            "height": height,
            "uirevision": uirevision,
            "plot_bgcolor": "white",
            "margin": {"l": 50, "r": 10, "t": 10, "b": 10},
            "showlegend": True,
            "legend": {"orientation": "h", "y": -0.14, "font": {"size": 11}},
        },
    )
    colours = iter(PALETTE)
    for i, (title, series) in enumerate(panels):
        axis = "" if i == 0 else str(i + 1)
        top = 1 - i * (h + gap)
        layout[f"yaxis{axis}"] = {
            "domain": [max(0.0, round(top - h, 6)), round(top, 6)],
            "title": {"text": title, "font": {"size": 10}},
            "gridcolor": GRID_COLOUR,
            "nticks": 4,
            "tickfont": {"size": 10},
            **({"range": [0, 1.02]} if title == "D accuracy" else {}),
        }
        layout[f"xaxis{axis}"] = {
            "anchor": f"y{axis}",
            "matches": "x" if i else None,
            "showticklabels": i == len(panels) - 1,
            "gridcolor": GRID_COLOUR,
            "nticks": 6,
            "tickfont": {"size": 10},
        }
        for key, name in series:
            y = np.asarray(history.get(key, []), dtype=np.float64)[keep]
            y = np.where(np.isfinite(y), y, np.nan)
            if smoothing > 0:
                y = ema(y, smoothing)
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": steps[keep],
                    "y": y,
                    "name": name,
                    "xaxis": f"x{axis}",
                    "yaxis": f"y{axis}",
                    "connectgaps": True,
                    "line": {"width": 1.5, "color": next(colours)},
                }
            )
    layout["xaxis"].pop("matches")
    if diverged_at is not None:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": diverged_at,
                "x1": diverged_at,
                "y0": 0,
                "y1": 1,
                "line": {"color": "red", "dash": "dash"},
            }
        ]
    return {"data": traces, "layout": layout}
