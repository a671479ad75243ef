"""The report's figures: codes over their prior, decoded grids and samples, as PNGs beside report.md.

Each figure shows the first seed's models (aae_core.report_doc.Inputs); matplotlib draws the scatter plots on
its Agg canvas, with no global pyplot state, and every file is written atomically.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from .files import write_atomic
from .latent import decode, manifold_grid, tile, to_png
from .models import AutoEncoderBase
from .priors import make_prior
from .report_doc import Inputs


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def plot_codes(panels: list[tuple[str, dict]], path: Path, seed: int) -> None:
    """Scatter plots of held-out codes coloured by label, over grey samples of each panel's prior."""
    from matplotlib.figure import Figure  # the Agg canvas, with no global pyplot state

    cols = min(2, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(4.4 * cols + 0.8, 4.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (title, r) in zip(axes.flat, panels):
        prior = make_prior(r["config"].prior)
        ref = prior.sample(3000, generator=torch.Generator().manual_seed(seed)).numpy()
        codes = r["codes"]
        ax.scatter(ref[:, 0], ref[:, 1], s=3, c="0.82", linewidths=0)
        dots = ax.scatter(codes[:, 0], codes[:, 1], c=r["labels"], cmap="tab10", vmin=-0.5, vmax=9.5, s=5, linewidths=0)
        both = np.concatenate([codes[:, :2], ref[:, :2]])
        lo, hi = np.percentile(both, 0.5, axis=0), np.percentile(both, 99.5, axis=0)
        half = 0.55 * float((hi - lo).max())
        mid = (lo + hi) / 2
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[1] - half, mid[1] + half)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    fig.colorbar(dots, ax=axes, ticks=range(10), label="digit (held-out images)", shrink=0.7)
    write_atomic(path, _png(fig))


def save_grid(model: AutoEncoderBase, config, image_shape: tuple[int, ...], n: int, path: Path) -> None:
    """Decode the prior's manifold grid (latent.manifold_grid) and save the tiled images as a PNG."""
    images = decode(model, manifold_grid(make_prior(config.prior), n), image_shape)
    write_atomic(path, to_png(tile(images), scale=2 if n <= 12 else 1))


def save_samples(
    models: dict[str, AutoEncoderBase], demos: dict[str, list[dict]], names: list[str], path: Path, seed: int
) -> None:
    """One row of 12 decoded prior samples per model: what each model makes of its prior."""
    rows = []
    for name in names:
        prior = make_prior(demos[name][0]["config"].prior)
        z = prior.sample(12, generator=torch.Generator().manual_seed(seed)).numpy()
        rows.append(decode(models[name], z, (28, 28)))
    write_atomic(path, to_png(tile(np.stack(rows)), scale=2))


def draw(out: Path, d: Inputs) -> None:
    """Every figure report.md links to, into out."""
    first = {name: runs[0] for name, runs in d.demos.items()}
    m, seed = d.models, d.seeds[0]
    plot_codes(
        [
            ("(a) AAE, Gaussian", first["aae-gaussian"]),
            ("(b) AAE, mixture of 10", first["aae-mixture"]),
            ("(c) VAE, Gaussian", first["vae-gaussian"]),
            ("(d) VAE, mixture of 10", first["vae-mixture"]),
            ("plain AE (no regularizer), Gaussian shown", first["ae-gaussian"]),
        ],
        out / "report-fig2-codes.png",
        seed,
    )
    save_grid(m["aae-gaussian"], first["aae-gaussian"]["config"], (28, 28), 20, out / "report-fig2e-manifold.png")
    save_samples(
        m,
        d.demos,
        ["aae-gaussian", "vae-gaussian", "aae-mixture", "vae-mixture", "ae-gaussian"],
        out / "report-prior-samples.png",
        seed,
    )
    plot_codes(
        [
            (f"(a) AAE, mixture, {d.label_fraction:.0%} labels", first["aae-mixture-labels"]),
            (f"(b) AAE, swiss roll, {d.label_fraction:.0%} labels", first["aae-swissroll-labels"]),
        ],
        out / "report-fig4-codes.png",
        seed,
    )
    save_grid(
        m["aae-mixture-labels"],
        first["aae-mixture-labels"]["config"],
        (28, 28),
        12,
        out / "report-fig4-mixture-walks.png",
    )
    save_grid(
        m["aae-swissroll-labels"],
        first["aae-swissroll-labels"]["config"],
        (28, 28),
        12,
        out / "report-fig4-roll-walk.png",
    )
    plot_codes(
        [
            ("AAE, swiss roll", first["aae-swissroll"]),
            ("VAE, swiss roll (approximate density)", first["vae-swissroll"]),
        ],
        out / "report-swissroll-codes.png",
        seed,
    )
    for r in d.parzen:
        if "fig5" in r:
            write_atomic(out / "report-fig5-nearest.png", to_png(tile(r["fig5"]), scale=4))
