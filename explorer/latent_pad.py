"""The latent pad: drag a point across the 2-D latent plot and watch every model's decoder follow it.

A drag that goes through Python and back takes ~115 ms per step, too slow to feel live. So while the
pointer moves, the browser runs each decoder itself (latent_pad.js: Linear/ReLU layers, then a
sigmoid), and only what the user leaves behind (the released point, pins, the link toggle, the path
ends) comes back to Python, which decodes the point again with torch and shows it next to its
nearest training images. Weights cross the wire once per model version: this module records, per
session and pad, which version it sent, and the browser caches decoders by version (a cache miss
asks for them again through the `need_weights` trigger). When versions change on every refresh
(live training), a large decoder's new weights are sent at most every few seconds (see
WEIGHT_BYTES_PER_S) so they do not swamp the browser. A decoder the browser cannot run (not a
plain Linear/ReLU MLP behind a sigmoid, or over 8M parameters) is decoded here instead, on
release, and the pad says so.

Calling it from an app view (inside `st.fragment(run_every=1)` is fine: the point survives)::

    from explorer.latent_pad import latent_pad

    state = latent_pad(
        {"AAE": aae, "VAE": vae},                       # AutoEncoderBase models, same latent_dim
        codes={"AAE": aae_codes, "VAE": vae_codes},     # held-out codes, (n, latent_dim) each
        labels=heldout_labels,                          # (n,) ints to colour them by, or None
        prior_samples=prior_z,                          # (m, latent_dim) samples of p(z)
        image_shape=(28, 28),                           # H, W with H * W == input_dim
        version={"AAE": f"{run}:{step}", "VAE": ...},   # or one str; must change whenever weights do
        key="pad",
        train_codes={"AAE": ..., "VAE": ...},           # optional: training codes and images ...
        train_images=train_x,                           # ... (N, input_dim) in [0, 1], for neighbours
    )
    if state is not None:                               # None until the user has placed a point
        state.z["AAE"]                                  # (latent_dim,) float64: the released point

Pass models whose weights are what `version` names (a snapshot, not one a thread is updating), so
the browser's copy and the server's decode agree.

State: `st.session_state[key]["pad"]` holds what the browser last committed: {"point": {name:
[x, y]}, "pins": [{name: [x, y]}, ...], "linked": bool, "path": [end, end]}, in pad coordinates
(with latent_dim 2 these are z itself; a path end is "point" or "pin:<index>"). AppTest cannot run
the JS; fake a release by setting that state before a run::

    at.session_state["pad"] = {"pad": {"point": {"AAE": [0.5, -1.0], "VAE": [0.5, -1.0]}}}
    at.run()

With latent_dim > 2 the pad adds widgets (keys prefixed `key`) choosing its plane: two axes, or each
model's top-2 PCA plane, with the other coordinates held at values the user sets.
"""

from __future__ import annotations

import base64
import io
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from aae_core.config import AAEError
from aae_core.models import AutoEncoderBase

from .pad_decoder import UnsupportedDecoder, browser_decoder, server_decode, wire_bytes
from .pad_plane import Plane, axis_name, make_plane, pad_range

WEIGHT_BYTES_PER_S = 2_000_000  # weight traffic per model while versions change every refresh (a 2-1000-1000-784
# decoder is 9.5 MB: a new copy every ~5 s; 2-256-256-784, 1.4 MB: every refresh)
PATH_STEPS = 10  # images in a path strip, both ends included
N_NEIGHBOURS = 5
IMAGE_SCALE = 6  # the server's full-size image: 28 x 28 shown at 168 px

_HERE = Path(__file__).resolve().parent
_pad_component = st.components.v2.component(
    "aae_explorer.latent_pad",
    html='<div class="lp-root"></div>',
    css=(_HERE / "latent_pad.css").read_text(),
    js=(_HERE / "latent_pad.js").read_text(),
    isolate_styles=False,
)


# ---------------------------------------------------------------- images for the server's view


def nearest(train_codes: np.ndarray, z: np.ndarray, k: int = N_NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of the k training codes nearest to z (Euclidean), nearest first."""
    d = np.linalg.norm(np.asarray(train_codes, dtype=np.float64) - z, axis=1)
    k = min(k, len(d))
    idx = np.argpartition(d, k - 1)[:k]
    idx = idx[np.argsort(d[idx])]
    return idx, d[idx]


def png_data_uri(images: np.ndarray, shape: tuple[int, int], scale: int = 1, gap: int = 0) -> str:
    """Grey images in [0, 1] (rows of H*W) side by side as a PNG data URI, upscaled `scale` times."""
    h, w = shape
    tiles = np.clip(np.asarray(images, dtype=np.float64).reshape(-1, h, w), 0, 1)
    strip = np.full((h, len(tiles) * (w + gap) - gap), 0.5)
    for i, tile in enumerate(tiles):
        strip[:, i * (w + gap) : i * (w + gap) + w] = tile
    pixels = np.round(strip * 255).astype(np.uint8).repeat(scale, 0).repeat(scale, 1)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ---------------------------------------------------------------- widgets choosing the plane


def _plane_controls(codes: Mapping[str, np.ndarray], dim: int, key: str) -> dict[str, Plane]:
    """Widgets choosing each model's plane (only for latent_dim > 2)."""
    if dim == 2:
        return {name: make_plane(c) for name, c in codes.items()}
    mode = st.radio(
        "Pad plane",
        ["axes", "pca"],
        horizontal=True,
        key=f"{key}-plane",
        format_func={"axes": "two latent axes", "pca": "PCA plane (per model)"}.get,
    )
    axes = (0, 1)
    if mode == "axes":
        left, right = st.columns(2)
        axes = (
            left.selectbox("x axis", range(dim), index=0, format_func=axis_name, key=f"{key}-x"),
            right.selectbox("y axis", range(dim), index=1, format_func=axis_name, key=f"{key}-y"),
        )
        if axes[0] == axes[1]:
            st.warning("Pick two different axes; showing the next one up as y.")
            axes = (axes[0], (axes[0] + 1) % dim)
        labels = [axis_name(k) for k in range(dim) if k not in axes]
    else:
        labels = [f"PC{k + 1}" for k in range(2, dim)]
    st.caption("Other coordinates are held at:" if mode == "axes" else "Other principal coordinates (from the mean):")
    cols = st.columns(min(len(labels), 6))
    held = [
        cols[i % len(cols)].number_input(label, value=0.0, step=0.1, key=f"{key}-held-{label}")
        for i, label in enumerate(labels)
    ]
    return {name: make_plane(c, mode, axes, held) for name, c in codes.items()}


# ---------------------------------------------------------------- what the user left on the pad


@dataclass(frozen=True)
class PadState:
    """The released point and the pins, as pad coordinates and full latent vectors, per model."""

    xy: dict[str, tuple[float, float]]
    z: dict[str, np.ndarray]
    pins: list[dict[str, np.ndarray]]
    linked: bool
    path: tuple[str, str]


def _finite_xy(value) -> tuple[float, float] | None:
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        return float(value[0]), float(value[1])
    return None


def read_state(raw: object, planes: Mapping[str, Plane]) -> PadState | None:
    """The pad's committed state (st.session_state[key]), or None before the first point; malformed parts are
    ignored."""
    pad = raw.get("pad") if isinstance(raw, Mapping) else None
    if not isinstance(pad, Mapping):
        return None
    point = pad.get("point") if isinstance(pad.get("point"), Mapping) else {}
    xy = {name: _finite_xy(point.get(name)) for name in planes}
    if any(v is None for v in xy.values()):
        return None
    pins = []
    for pin in pad.get("pins") or []:
        coords = {name: _finite_xy(pin.get(name)) for name in planes} if isinstance(pin, Mapping) else {}
        if coords and all(v is not None for v in coords.values()):
            pins.append({name: planes[name].latent(np.array([c]))[0] for name, c in coords.items()})
    path = pad.get("path")
    path = tuple(path) if isinstance(path, (list, tuple)) and len(path) == 2 else ("pin:0", "point")
    return PadState(
        xy,
        {name: planes[name].latent(np.array([c]))[0] for name, c in xy.items()},
        pins,
        bool(pad.get("linked", True)),
        path,
    )


def _path_ends(state: PadState, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    ends = []
    for end in state.path:
        if end == "point":
            ends.append(state.z[name])
        elif isinstance(end, str) and end.startswith("pin:") and end[4:].isdigit() and int(end[4:]) < len(state.pins):
            ends.append(state.pins[int(end[4:])][name])
        else:
            return None
    return None if state.path[0] == state.path[1] else (ends[0], ends[1])


def _server_images(model: AutoEncoderBase, name: str, state: PadState | None, shape: tuple[int, int]) -> dict:
    """Data URIs of what the browser would have decoded, for a model it cannot run."""
    if state is None:
        return {"point": None, "pins": [], "path": None}
    ends = _path_ends(state, name)
    path = None
    if ends is not None:
        t = np.linspace(0, 1, PATH_STEPS)[:, None]
        path = png_data_uri(server_decode(model, ends[0] + t * (ends[1] - ends[0])), shape)
    return {
        "point": png_data_uri(server_decode(model, state.z[name][None]), shape),
        "pins": [png_data_uri(server_decode(model, pin[name][None]), shape) for pin in state.pins],
        "path": path,
    }


# ---------------------------------------------------------------- the render function


def _b64_xy(points: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(points, dtype="<f4").tobytes()).decode("ascii")


def _decoder_payload(
    model: AutoEncoderBase, version: str, record: tuple | None, now: float
) -> tuple[dict | None, str | None, tuple]:
    """(decoder message, fallback reason, new sent-record) for one model: weights only when `record` lacks this version.

    A record is (version, fallback reason or None, time sent). While versions change faster than the
    weights can reasonably travel (live training of a large decoder), the browser keeps its copy until
    WEIGHT_BYTES_PER_S allows the next one, and is told when to ask for it ("newer_in", seconds).
    """
    if record is not None and record[0] == version:
        return (None if record[1] else {"version": version}), record[1], record
    if record is not None and record[1] is None:
        wait = wire_bytes(model) / WEIGHT_BYTES_PER_S - (now - record[2])
        if wait > 0:
            return {"version": record[0], "newer_in": wait}, None, record
    try:
        return {"version": version, "spec": browser_decoder(model)}, None, (version, None, now)
    except UnsupportedDecoder as e:
        return None, str(e), (version, str(e), now)


def _forget_sent(key: str) -> None:
    """need_weights callback: the browser lacks these models' weights, so the next run sends them."""
    names = (st.session_state.get(key) or {}).get("need_weights")
    sent = st.session_state.get(f"_latent_pad_sent:{key}", {})
    for name in names if isinstance(names, list) else list(sent):
        sent.pop(name, None)


def _check_inputs(models, codes, labels, prior_samples, image_shape, train_codes, train_images) -> int:
    if not models:
        raise AAEError("latent_pad: needs at least one model")
    dims = sorted({m.config.latent_dim for m in models.values()})
    if len(dims) != 1 or dims[0] < 2:
        raise AAEError(f"latent_pad: the models need one shared latent_dim >= 2, got {dims}")
    dim = dims[0]
    for name, model in models.items():
        c = codes.get(name)
        if c is None or np.ndim(c) != 2 or np.shape(c)[1] != dim:
            raise AAEError(f"codes[{name!r}]: need an (n, {dim}) array")
        if labels is not None and len(labels) != len(c):
            raise AAEError(f"labels: {len(labels)} labels for {len(c)} codes of {name!r}")
        if math.prod(image_shape) != model.config.input_dim:
            raise AAEError(
                f"image_shape={tuple(image_shape)}: {math.prod(image_shape)} pixels, {name!r} has "
                f"input_dim {model.config.input_dim}"
            )
        if train_codes is not None and (name not in train_codes or len(train_codes[name]) != len(train_images)):
            raise AAEError(f"train_codes[{name!r}]: need one code per training image ({len(train_images)})")
    if np.ndim(prior_samples) != 2 or np.shape(prior_samples)[1] != dim:
        raise AAEError(f"prior_samples: need an (m, {dim}) array")
    return dim


def latent_pad(
    models: Mapping[str, AutoEncoderBase],
    codes: Mapping[str, np.ndarray],
    labels: np.ndarray | None,
    prior_samples: np.ndarray,
    image_shape: tuple[int, int],
    version: str | Mapping[str, str],
    *,
    key: str,
    class_names: Sequence[str] | None = None,
    train_codes: Mapping[str, np.ndarray] | None = None,
    train_images: np.ndarray | None = None,
    train_labels: np.ndarray | None = None,
    show_server_decode: bool = True,
) -> PadState | None:
    """Render the pads (one per model, side by side) and return what the user left on them (None before a click)."""
    codes = {name: np.asarray(codes[name], dtype=np.float64) if name in codes else None for name in models}
    if (train_codes is None) != (train_images is None):
        raise AAEError("latent_pad: pass train_codes and train_images together (for nearest training images)")
    dim = _check_inputs(models, codes, labels, prior_samples, image_shape, train_codes, train_images)
    prior_samples = np.asarray(prior_samples, dtype=np.float64)
    versions = {name: str(version[name] if isinstance(version, Mapping) else version) for name in models}
    planes = _plane_controls(codes, dim, key)
    state = read_state(st.session_state.get(key), planes)

    range_key = f"_latent_pad_range:{key}"
    sent = st.session_state.setdefault(f"_latent_pad_sent:{key}", {})
    projected = {name: (planes[name].project(codes[name]), planes[name].project(prior_samples)) for name in models}
    view = pad_range([p for pair in projected.values() for p in pair], st.session_state.get(range_key))
    st.session_state[range_key] = view
    classes = sorted(set(np.asarray(labels).tolist())) if labels is not None else [0]
    label_index = {c: i for i, c in enumerate(classes)}
    entries, records, now = [], {}, time.monotonic()
    for name, model in models.items():
        decoder, fallback, records[name] = _decoder_payload(model, versions[name], sent.get(name), now)
        entries.append(
            {
                "name": name,
                "plane": planes[name].to_json(),
                "decoder": decoder,
                "fallback": fallback,
                "codes_xy": _b64_xy(projected[name][0]),
                "prior_xy": _b64_xy(projected[name][1]),
                "server": _server_images(model, name, state, image_shape) if fallback else None,
            }
        )
    data = {
        "models": entries,
        "range": view,
        "image_shape": list(image_shape),
        "path_steps": PATH_STEPS,
        "axis_names": list(next(iter(planes.values())).axis_names),
        "labels": None if labels is None else [label_index[v] for v in np.asarray(labels).tolist()],
        "classes": ["codes"] if labels is None else [str(class_names[c]) if class_names else str(c) for c in classes],
        "state": dict((st.session_state.get(key) or {}).get("pad") or {}),
    }
    _pad_component(key=key, data=data, on_pad_change=lambda: None, on_need_weights_change=lambda: _forget_sent(key))
    sent.update(records)  # only now: a run stopped before this point has sent nothing
    if show_server_decode:
        _show_server_decode(models, state, key, image_shape, train_codes, train_images, train_labels)
    return state


def format_z(z: np.ndarray) -> str:
    """A latent vector as people read it: z = (0.500, -1.000)."""
    return "z = (" + ", ".join(f"{float(v):.3f}" for v in z) + ")"


def _show_server_decode(models, state, key, shape, train_codes, train_images, train_labels) -> None:
    """The released point decoded by torch, full size, beside its nearest training images."""
    with st.container(key=f"{key}-server"):
        if state is None:
            st.caption(
                "Click or drag on a pad: the point you release is decoded here by the server, "
                "next to its nearest training images."
            )
            return
        st.markdown("**Released point, decoded on the server (torch)**")
        for col, (name, model) in zip(st.columns(len(models)), models.items()):
            z = state.z[name]
            col.markdown(f"**{name}** at {format_z(z)}")
            col.image(png_data_uri(server_decode(model, z[None]), shape, IMAGE_SCALE))
            if train_codes is not None:
                idx, dist = nearest(train_codes[name], z)
                who = [
                    f"{d:.2f}" + (f" ({train_labels[i]})" if train_labels is not None else "")
                    for i, d in zip(idx, dist)
                ]
                col.image(
                    png_data_uri(np.asarray(train_images)[idx], shape, 3, gap=2),
                    caption="nearest training images by code distance: " + ", ".join(who),
                )
