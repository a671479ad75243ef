"""The report's document: report.md, from the results `aae_core.report` measured, and its figures.

Nothing here trains or evaluates; every number comes from the runs, summarised over seeds as mean ± sd,
and every prior-match number stands beside its floor (the same measure between two prior samples). The prose
is report_template.md (a string.Template); this module fills in the numbers, tables and claims, and
aae_core.report_figures draws the PNGs it links to.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import string
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from .config import PriorConfig, TrainConfig
from .files import write_atomic
from .models import AutoEncoderBase
from .priors import SwissRollPrior

PRIOR_TITLES = {"gaussian": "Gaussian", "mixture": "mixture of 10 Gaussians", "swissroll": "swiss roll"}
MODEL_TITLES = {"aae": "AAE", "vae": "VAE", "ae": "plain AE"}
QUICK_NOTE = "**This is a `--quick` run: tiny budgets, for CI; its numbers mean little.** "
# (measure, digits) of the floors table's and the Parzen table's columns.
FLOOR_COLUMNS = (("prior_mmd", 4), ("prior_swd", 3), ("prior_coverage", 3), ("prior_density", 3))
PARZEN_COLUMNS = (
    ("sigma", 3),
    ("mean", 0),
    ("se", 1),
    ("prior_mmd_ratio", 1),
    ("prior_coverage", 3),
    ("code_std_ratio", 2),
)
TARGET_KNN, TARGET_MMD_RATIO, TARGET_MIN_SHARE, TARGET_ROLL, TARGET_PARZEN = 0.65, 3.0, 0.03, 0.1, 275


@dataclass(frozen=True)
class Inputs:
    """Everything the document shows."""

    args: argparse.Namespace
    budget: Any  # report_measures.EvalBudget
    demo_epochs: float
    label_fraction: float  # of the label-conditioned models' training images
    parzen_dim: int
    parzen_std: float
    seeds: list[int]
    demos: dict[str, list[dict]]  # name -> one result per seed (report_measures.demo_record)
    models: dict[str, AutoEncoderBase]  # name -> the first seed's model
    parzen: list[dict]  # one row per dataset, model and seed (report_measures.parzen_record)
    notes: list[str]
    baselines: dict[str, tuple[float, float] | None]  # mean and sd over seeds
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
    """Mean and sd over seeds of one number of each run (run[where][key])."""
    return summary([r[where].get(key) for r in runs])


def known_stat(runs: list[dict], key: str, where: str = "metrics") -> tuple[float, float]:
    """`stat` of a number a claim compares, so it must exist: ValueError if no run has a finite value."""
    s = stat(runs, key, where)
    if s is None:
        raise ValueError(f"{where}[{key!r}]: no run has a finite value, and a claim compares it")
    return s


def pm(s: tuple[float, float] | None, digits: int = 3) -> str:
    """'mean ± sd', or n/a."""
    return "n/a" if s is None else f"{s[0]:.{digits}f} ± {s[1]:.{digits}f}"


def floor(metrics: dict, key: str, digits: int) -> str:
    """A prior measure's floor, 'mean ± sd' over its draws."""
    return f"{metrics[key + '_floor']:.{digits}f} ± {metrics[key + '_floor_sd']:.{digits}f}"


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
        f"| PCA to 2-D (pixels) | none | none | n/a | {pm(d.baselines['pca_knn'])} | n/a | n/a | n/a | n/a "
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
        mmd, swd, cov, dens = (floor(m, k, digits) for k, digits in FLOOR_COLUMNS)
        lines.append(f"| {PRIOR_TITLES[prior]} | {mmd} | {swd} | {cov} | {dens} |")
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

    def per_seed(name: str, key: str) -> str:
        return ", ".join(f"{r['metrics'][key]:.3f}" for r in d.demos[name])

    for prior in ("gaussian", "mixture"):
        a, v = d.demos[f"aae-{prior}"], d.demos[f"vae-{prior}"]
        ka, kv, ra = known_stat(a, "knn_accuracy"), known_stat(v, "knn_accuracy"), known_stat(a, "prior_mmd_ratio")
        ok = ka[0] >= TARGET_KNN and ka[0] > kv[0] and ra[0] <= TARGET_MMD_RATIO
        lines.append(
            f"- **The {PRIOR_TITLES[prior]} AAE keeps the digits apart (5-NN ≥ {TARGET_KNN}, above the VAE) "
            f"with its codes on the prior (MMD² ≤ {TARGET_MMD_RATIO:g}× floor): {verdict(ok)} here.** "
            f"5-NN: AAE {pm(ka)} (seeds: {per_seed(f'aae-{prior}', 'knn_accuracy')}), VAE {pm(kv)}; "
            f"MMD²: AAE {pm(ra, 1)}× its floor, VAE {pm(stat(v, 'prior_mmd_ratio'), 1)}×."
        )
        ca, cv = known_stat(a, "prior_coverage"), known_stat(v, "prior_coverage")
        lines.append(
            f"- **The AAE's codes leave fewer holes in the {PRIOR_TITLES[prior]} prior than the VAE's "
            f"(coverage): {verdict(ca[0] > cv[0])} here.** Coverage: AAE {pm(ca)}, VAE {pm(cv)}; a second "
            f"prior sample scores {a[0]['metrics']['prior_coverage_floor']:.3f}."
        )
        sa = stat(a, "decoded_class_min_share")
        every_digit = min(r["metrics"]["decoded_class_min_share"] for r in a) >= TARGET_MIN_SHARE
        lines.append(
            f"- **Every digit appears among the {PRIOR_TITLES[prior]} AAE's decoded prior samples (each ≥ "
            f"{TARGET_MIN_SHARE:.0%} of 2,000): {verdict(every_digit)} "
            f"here.** Rarest digit's share: {pm(sa)} (seeds: {per_seed(f'aae-{prior}', 'decoded_class_min_share')})."
        )
        ma, mv = known_stat(a, "mode_mass", "extra"), known_stat(v, "mode_mass", "extra")
        mp = a[0]["extra"]["prior_mode_mass"]
        lines.append(
            f"- **The VAE over-weights the modes of the {PRIOR_TITLES[prior]} prior: "
            f"{verdict(mv[0] > max(mp, ma[0]))} here.** Mode mass: VAE {pm(mv)}, AAE {pm(ma)}, the prior "
            f"itself {mp:.3f}."
        )
    ra, rv = (
        known_stat(d.demos["aae-swissroll"], "roll_distance_median"),
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
        cells = " | ".join(pm(summary([r[k] for r in rows]), digits) for k, digits in PARZEN_COLUMNS)
        lines.append(f"| {dataset} | {model} | {r0['hidden']} | {r0['n_train']:,} | {r0['epochs']:g} | {cells} |")
    return lines


def render(d: Inputs) -> str:
    """The report's markdown: report_template.md with this run's numbers, tables and claims filled in."""
    t, p = TrainConfig(), PriorConfig()
    roll = SwissRollPrior(PriorConfig(name="swissroll"))
    first = d.demos["aae-gaussian"][0]
    pa = summary([r["mean"] for r in d.parzen if r["dataset"] == "mnist5k" and r["model"] == "AAE"])
    template = string.Template(resources.files(__package__).joinpath("report_template.md").read_text("utf-8"))
    return template.substitute(
        quick_note=QUICK_NOTE if d.args.quick else "",
        n_seeds=len(d.seeds),
        seeds=", ".join(map(str, d.seeds)),
        first_seed=d.seeds[0],
        batch_size=t.batch_size,
        lr_recon=f"{t.lr_recon:g}",
        lr_disc=f"{t.lr_disc:g}",
        lr_gen=f"{t.lr_gen:g}",
        cool_fraction=f"{t.cool_fraction:.0%}",
        cool_factor=f"{t.cool_factor:g}",
        prior_std=f"{p.std:g}",
        radius=f"{p.radius:g}",
        radial_std=f"{p.radial_std:g}",
        tangential_std=f"{p.tangential_std:g}",
        roll_radius=f"{p.roll_radius:g}",
        turn_gap=f"{roll.turn_gap:g}",
        demo_epochs=f"{d.demo_epochs:g}",
        n_train=f"{first['n_train']:,}",
        n_heldout=f"{len(first['labels']):,}",
        metrics_table="\n".join(metrics_table(d)),
        floors_table="\n".join(floors_table(d)),
        shape_table="\n".join(shape_table(d)),
        claims="\n".join(claims(d)),
        label_fraction=f"{d.label_fraction:.0%}",
        own_part_mixture=pm(stat(d.demos["aae-mixture-labels"], "own_part")),
        own_part_roll=pm(stat(d.demos["aae-swissroll-labels"], "own_part")),
        roll_density=roll.density_note.removeprefix("approximate: "),
        parzen_dim=d.parzen_dim,
        parzen_std=f"{d.parzen_std:g}",
        parzen_samples=f"{d.budget.parzen_samples:,}",
        parzen_table="\n".join(parzen_table(d)),
        notes="\n".join(f"- {n}" for n in d.notes),
        target_parzen=TARGET_PARZEN,
        parzen_verdict=verdict(pa is not None and pa[0] >= TARGET_PARZEN),
        parzen_aae=pm(pa, 0),
        command=d.command,
        device=d.args.device or "auto (aae-train's default)",
        torch_version=torch.__version__,
        workers=d.args.workers,
        grid_file="report-quick.toml" if d.args.quick else "report.toml",
        cpu_count=os.cpu_count(),
        machine=platform.machine(),
        system=platform.system(),
        timings="\n".join(f"| {k} | {v:.0f} |" for k, v in d.timings.items()),
    )


def write(out: Path, d: Inputs, start: float) -> None:
    """Write report.md into out (its figures are drawn first, by report_figures.draw)."""
    timings = {**d.timings, "total": time.perf_counter() - start}
    doc = Inputs(**{**d.__dict__, "timings": timings})
    write_atomic(out / "report.md", render(doc).encode())
    print(f"wrote {out / 'report.md'} in {timings['total']:.0f} s")
