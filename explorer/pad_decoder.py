"""A model's decoder as the browser runs it: the latent pad's wire format, checked against model.decode.

The pad decodes in the browser while the pointer moves (latent_pad.js), so a decoder crosses the wire as a
spec: its Linear layers' sizes and their weights as base64 little-endian float32. Only a plain MLP can go:
Linear(-ReLU-Linear)* behind a sigmoid, at most MAX_BROWSER_PARAMS parameters; for anything else
browser_decoder raises UnsupportedDecoder and the pad decodes on the server instead. Nothing here needs
Streamlit.
"""

from __future__ import annotations

import base64
import copy
import weakref

import numpy as np
import torch
from torch import nn

from aae_core.config import AAEError
from aae_core.models import AutoEncoderBase

MAX_BROWSER_PARAMS = 8_000_000  # beyond this the browser copy is too big to ship and too slow to run
PROBE_TOLERANCE = 1e-4  # how closely the shipped MLP must reproduce model.decode


class UnsupportedDecoder(Exception):
    """Why a decoder cannot run in the browser; the pad then decodes it on the server."""


def decoder_layers(model: nn.Module) -> list[nn.Linear]:
    """The decoder's Linear layers if it is Linear(-ReLU-Linear)*, small enough for the browser; else
    UnsupportedDecoder."""
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


def server_decode(model: AutoEncoderBase, z: np.ndarray) -> np.ndarray:
    """model.decode on the rows of z, as float64 numpy of shape (n, input_dim)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return model.decode(torch.as_tensor(np.asarray(z), dtype=torch.float32, device=device)).double().cpu().numpy()


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


def wire_bytes(model: nn.Module) -> int:
    """Size of a decoder's weights on the wire: float32 in base64."""
    return sum(p.numel() for p in model.decoder.parameters()) * 4 * 4 // 3
