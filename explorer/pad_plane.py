"""The plane a latent pad shows: which 2-D slice of the latent space, and the square of it in view.

With latent_dim 2 the plane is the latent space itself; above that it runs through two chosen axes, or the
codes' top-2 principal directions, with the other coordinates held at values the user sets. Nothing here needs
Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aae_core.config import AAEError


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
