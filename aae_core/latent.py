"""Where to look in latent space: manifold grids, walks, 2-D projections, image tiles.

Shared by the app's decoded views and the report, so both decode the same points the same way.
The Gaussian manifold follows the paper's Fig. 2e: an even grid of Gaussian *percentiles*, not of
coordinates, so every cell covers the same prior mass.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image

from .config import AAEError
from .models import AutoEncoderBase
from .priors import GaussianPrior, MixturePrior, Prior, SwissRollPrior


def _normal_ppf(p: np.ndarray) -> np.ndarray:
    """Standard normal quantiles (inverse CDF), via torch's erfinv."""
    return math.sqrt(2) * torch.special.erfinv(torch.as_tensor(2 * p - 1, dtype=torch.float64)).numpy()


def percentiles(n: int, lo: float = 0.05, hi: float = 0.95) -> np.ndarray:
    """n evenly spaced probabilities in [lo, hi]."""
    return np.linspace(lo, hi, n)


def component_walk(prior: MixturePrior, k: int, n: int) -> np.ndarray:
    """n points along petal k's long axis, at Gaussian percentiles of its radial spread (other dims 0)."""
    c = prior.config
    a = _normal_ppf(percentiles(n)) * c.radial_std
    theta = 2 * math.pi * k / c.n_parts
    z = np.zeros((n, prior.dim))
    z[:, 0] = c.radius * math.cos(theta) + a * math.cos(theta)
    z[:, 1] = c.radius * math.sin(theta) + a * math.sin(theta)
    return z


def roll_walk(prior: SwissRollPrior, n: int, segment: int | None = None) -> np.ndarray:
    """n points along the whole roll, or along one label segment of it, centre outwards."""
    k = prior.n_parts
    lo, hi = (0.0, 1.0) if segment is None else (segment / k, (segment + 1) / k)
    u = lo + (hi - lo) * (np.arange(n) + 0.5) / n
    return prior.roll(torch.as_tensor(u, dtype=torch.float32)).numpy().astype(np.float64)


def manifold_grid(prior: Prior, n: int) -> np.ndarray:
    """Codes to decode as a grid of rows x n columns, shaped (rows, n, dim):
    Gaussian: an n x n grid of percentiles in the first two dims (Fig. 2e), one row of them in 1-D; mixture: one
    row per component, walking along it; swiss roll: one row per segment, walking along the roll."""
    if n < 2:
        raise AAEError(f"grid size {n}: must be at least 2")
    if isinstance(prior, GaussianPrior):
        q = _normal_ppf(percentiles(n)) * prior.config.std
        if prior.dim == 1:
            return q[None, :, None]
        z = np.zeros((n, n, prior.dim))
        z[..., 0] = q[None, :]
        z[..., 1] = q[::-1, None]  # rows from top (high z2) to bottom, as in a plot
        return z
    if isinstance(prior, MixturePrior):
        return np.stack([component_walk(prior, k, n) for k in range(prior.n_parts)])
    if isinstance(prior, SwissRollPrior):
        return np.stack([roll_walk(prior, n, s) for s in range(prior.n_parts)])
    raise AAEError(f"no manifold grid for a {type(prior).__name__}")


def project_2d(codes: np.ndarray, axes: tuple[int, int] | None = None) -> np.ndarray:
    """Codes as 2-D points: unchanged in 2-D; two chosen axes; or (axes=None) the PCA plane."""
    if codes.shape[1] == 2:
        return codes
    if axes is not None:
        return codes[:, list(axes)]
    from sklearn.decomposition import PCA  # imported here: scikit-learn adds ~1 s to the app's first page

    return PCA(n_components=2, random_state=0).fit_transform(codes)


@torch.no_grad()
def decode(model: AutoEncoderBase, z: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """Decode codes of any leading shape (..., dim) to images (..., *image_shape) in [0, 1]."""
    model.eval()
    lead = z.shape[:-1]
    param = next(model.parameters())
    out = model.decode(torch.as_tensor(z.reshape(-1, z.shape[-1]), dtype=param.dtype, device=param.device))
    return out.cpu().numpy().reshape(*lead, *image_shape)


def tile(images: np.ndarray, pad: int = 1) -> np.ndarray:
    """A (rows, cols, H, W) stack of images as one (rows*(H+pad)-pad, cols*(W+pad)-pad) mosaic."""
    rows, cols, h, w = images.shape
    out = np.ones((rows * (h + pad) - pad, cols * (w + pad) - pad), dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = images[r, c]
    return out


def to_png(image: np.ndarray, scale: int = 1) -> bytes:
    """A grayscale image in [0, 1] as PNG bytes (nearest-neighbour upscaled by `scale`)."""
    pil = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8), mode="L")
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()
