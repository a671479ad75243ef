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
import copy
import io
import math
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from PIL import Image
from torch import nn

from aae_core.config import AAEError
from aae_core.models import AutoEncoderBase

MAX_BROWSER_PARAMS = 8_000_000  # beyond this the browser copy is too big to ship and too slow to run
WEIGHT_BYTES_PER_S = 2_000_000  # weight traffic per model while versions change every refresh (a 2-1000-1000-784
# decoder is 9.5 MB: a new copy every ~5 s; 2-256-256-784, 1.4 MB: every refresh)
PROBE_TOLERANCE = 1e-4  # how closely the shipped MLP must reproduce model.decode
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


class UnsupportedDecoder(Exception):
    """Why a decoder cannot run in the browser; the pad then decodes it on the server."""


# ---------------------------------------------------------------- the decoder on the wire


def decoder_layers(model: nn.Module) -> list[nn.Linear]:
    """The decoder's Linear layers if it is Linear(-ReLU-Linear)*, small enough for the browser; else UnsupportedDecoder."""
    decoder = getattr(model, "decoder", None)
    if not isinstance(decoder, nn.Sequential) or len(decoder) % 2 == 0:
        raise UnsupportedDecoder("the decoder is not an nn.Sequential of Linear/ReLU layers ending in a Linear")
    layers = list(decoder)
    if not all(type(m) is nn.Linear for m in layers[0::2]) or not all(type(m) is nn.ReLU for m in layers[1::2]):
        raise UnsupportedDecoder("the decoder is not an nn.Sequential of Linear/ReLU layers ending in a Linear")
    n_params = sum(p.numel() for p in decoder.parameters())
    if n_params > MAX_BROWSER_PARAMS:
        raise UnsupportedDecoder(
            f"the decoder has {n_params / 1e6:.1f}M parameters; the browser copy handles at most "
            f"{MAX_BROWSER_PARAMS / 1e6:.0f}M"
        )
    return layers[0::2]


def encode_decoder(model: nn.Module) -> dict:
    """The wire spec {"layers": [[in, out], ...], "weights": base64 little-endian float32, W^T then b per layer}."""
    parts = []
    linears = decoder_layers(model)
    for lin in linears:
        # W^T (in x out): the JS loops over inputs outermost, reading each input's weights contiguously.
        parts.append(lin.weight.detach().to("cpu", torch.float32).T.reshape(-1))
        parts.append(torch.zeros(lin.out_features) if lin.bias is None else lin.bias.detach().to("cpu", torch.float32))
    flat = torch.cat(parts).numpy().astype("<f4")
    return {
        "layers": [[lin.in_features, lin.out_features] for lin in linears],
        "weights": base64.b64encode(flat.tobytes()).decode("ascii"),
    }


def decode_spec(spec: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W^T, b) per layer from a wire spec: the inverse of encode_decoder."""
    flat = np.frombuffer(base64.b64decode(spec["weights"]), dtype="<f4")
    need = sum(n_in * n_out + n_out for n_in, n_out in spec["layers"])
    if need != flat.size:
        raise AAEError(f"decoder spec: its layers need {need} floats but it carries {flat.size}")
    layers, at = [], 0
    for n_in, n_out in spec["layers"]:
        layers.append(
            (flat[at : at + n_in * n_out].reshape(n_in, n_out), flat[at + n_in * n_out : at + n_in * n_out + n_out])
        )
        at += n_in * n_out + n_out
    return layers


def spec_forward(layers: list[tuple[np.ndarray, np.ndarray]], z: np.ndarray) -> np.ndarray:
    """sigmoid(MLP(z)) in float64 numpy: the computation latent_pad.js runs, for rows of z."""
    h = np.asarray(z, dtype=np.float64)
    for i, (w, b) in enumerate(layers):
        h = h @ w.astype(np.float64) + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return 1 / (1 + np.exp(-h))


# Models whose decode() was checked against the shipped MLP: weights change every version, what
# decode() computes does not, so each model object is checked once (weakly held: no leak).
_checked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def browser_decoder(model: AutoEncoderBase) -> dict:
    """The wire spec of a decoder the browser can run, checked against model.decode; else UnsupportedDecoder."""
    if model not in _checked:
        # On a private copy, so a training thread cannot change the weights between encoding and checking.
        twin = copy.deepcopy(model)
        spec = encode_decoder(twin)
        probe = 3 * torch.randn(16, spec["layers"][0][0], generator=torch.Generator().manual_seed(0))
        gap = np.abs(spec_forward(decode_spec(spec), probe.numpy()) - server_decode(twin, probe.numpy())).max()
        _checked[model] = (
            None if gap <= PROBE_TOLERANCE else f"decode() is not sigmoid(decoder(z)) (they differ by {gap:.2g})"
        )
    if _checked[model] is not None:
        raise UnsupportedDecoder(_checked[model])
    return encode_decoder(model)


# ---------------------------------------------------------------- server side decoding


def server_decode(model: AutoEncoderBase, z: np.ndarray) -> np.ndarray:
    """model.decode on the rows of z, as float64 numpy of shape (n, input_dim)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return model.decode(torch.as_tensor(np.asarray(z), dtype=torch.float32, device=device)).double().cpu().numpy()


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


# ---------------------------------------------------------------- the plane the pad shows


@dataclass(frozen=True)
class Plane:
    """The 2-D slice a pad shows: z = center + x basis[:, 0] + y basis[:, 1] + basis[:, 2:] @ held."""

    center: np.ndarray  # (D,)
    basis: np.ndarray  # (D, D), orthonormal columns
    held: np.ndarray  # (D - 2,): coordinates along basis[:, 2:]
    axis_names: tuple[str, str]

    def latent(self, xy: np.ndarray) -> np.ndarray:
        """Full latent vectors (n, D) for pad points xy (n, 2)."""
        return self.center + self.basis[:, 2:] @ self.held + np.asarray(xy, dtype=np.float64) @ self.basis[:, :2].T

    def project(self, z: np.ndarray) -> np.ndarray:
        """Pad coordinates (n, 2) of latent vectors z (n, D): orthogonal projection onto the plane."""
        return (np.asarray(z, dtype=np.float64) - self.center) @ self.basis[:, :2]

    def to_json(self) -> dict:
        origin = self.center + self.basis[:, 2:] @ self.held
        return {"origin": origin.tolist(), "u": self.basis[:, 0].tolist(), "v": self.basis[:, 1].tolist()}


def axis_name(index: int) -> str:
    """The name of latent axis `index` (0-based): z1, z2, ..., as on every plot and in the CSV export."""
    return f"z{index + 1}"


def make_plane(
    codes: np.ndarray, mode: str = "axes", axes: tuple[int, int] = (0, 1), held: Sequence[float] = ()
) -> Plane:
    """The plane through two latent axes ("axes") or through the codes' top-2 principal directions ("pca")."""
    dim = codes.shape[1]
    held = np.asarray(held, dtype=np.float64).reshape(-1)
    if held.size != dim - 2:
        raise AAEError(f"held: {held.size} values given, a {dim}-D latent space needs {dim - 2}")
    if mode == "axes":
        i, j = axes
        if i == j or not (0 <= i < dim and 0 <= j < dim):
            raise AAEError(f"axes={axes}: need two different axes in 0..{dim - 1}")
        order = [i, j, *(k for k in range(dim) if k not in (i, j))]
        return Plane(np.zeros(dim), np.eye(dim)[:, order], held, (axis_name(i), axis_name(j)))
    if mode == "pca":
        center = codes.mean(0)
        _, _, vt = np.linalg.svd(codes - center, full_matrices=True)
        basis = vt.T * np.sign(vt[np.arange(dim), np.abs(vt).argmax(1)])  # fixed signs: no flips between refreshes
        return Plane(center, basis, held, ("PC1", "PC2"))
    raise AAEError(f"plane mode {mode!r}: must be 'axes' or 'pca'")


def pad_range(points: Sequence[np.ndarray], previous: Sequence[float] | None = None) -> list[float]:
    """A square [x0, x1, y0, y1] around the bulk of the points, or `previous` while that still fits them well."""
    pts = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in points])
    pts = pts[np.isfinite(pts).all(1)]  # a diverged model's NaN codes must not take the axes with them
    if not len(pts):
        return list(previous) if previous is not None else [-1.0, 1.0, -1.0, 1.0]
    lo, hi = np.percentile(pts, [0.5, 99.5], axis=0)
    center, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * 1.15, 1e-3)
    if previous is not None:
        # Keep the axes still under the user's hand unless the codes really moved or changed scale.
        p_center = np.array([previous[0] + previous[1], previous[2] + previous[3]]) / 2
        p_half = (previous[1] - previous[0]) / 2
        if 0.8 <= half / p_half <= 1.25 and np.abs(center - p_center).max() <= 0.1 * p_half:
            return list(previous)
    return [center[0] - half, center[0] + half, center[1] - half, center[1] + half]


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
    """The pad's committed state (st.session_state[key]), or None before the first point; malformed parts are ignored."""
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
        wait = _wire_bytes(model) / WEIGHT_BYTES_PER_S - (now - record[2])
        if wait > 0:
            return {"version": record[0], "newer_in": wait}, None, record
    try:
        return {"version": version, "spec": browser_decoder(model)}, None, (version, None, now)
    except UnsupportedDecoder as e:
        return None, str(e), (version, str(e), now)


def _wire_bytes(model: nn.Module) -> int:
    """Size of a decoder's weights on the wire: float32 in base64."""
    return sum(p.numel() for p in model.decoder.parameters()) * 4 * 4 // 3


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
