"""The evidence for the project's one recipe (aae_core.config defaults): 2-D AAEs on mnist5k at the explorer
size, over the balance of the learning rates, the prior's scale and the cool-down schedule, 3 seeds per cell.
Every run trains for a fixed number of epochs (never seconds), so load on the machine cannot bias it, and is
scored by aae_core.metrics.evaluate, prior-match measures beside their floors. Runs go to a JSON-lines log
as they finish, so an interrupted sweep resumes where it stopped.

    flock /tmp/aae-cpu.lock python -m bench.recipe_sweep --out bench/results/recipe-sweep.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SCALED = {
    "gaussian": lambda s: {"prior_std": s},
    "mixture": lambda s: {"radius": 1.4 * s, "radial_std": 0.5 * s, "tangential_std": 0.1 * s},
    "swissroll": lambda s: {"roll_radius": 3.0 * s},
}
# name -> (prior, scale relative to the paper's unit-scale prior, adversarial lr, cool-down?, disc noise,
#          fraction of labels the discriminator sees: None for an unconditioned run)
CELLS = {
    "gaussian std 1, adv 1e-3 (old report recipe)": ("gaussian", 1, 1e-3, True, 0.0, None),
    "gaussian std 1, adv 2e-4": ("gaussian", 1, 2e-4, True, 0.0, None),
    "gaussian std 5, adv 1e-4": ("gaussian", 5, 1e-4, True, 0.0, None),
    "gaussian std 5, adv 2e-4": ("gaussian", 5, 2e-4, True, 0.0, None),
    "gaussian std 5, adv 3e-4": ("gaussian", 5, 3e-4, True, 0.0, None),
    "gaussian std 5, adv 2e-4, no cool-down": ("gaussian", 5, 2e-4, False, 0.0, None),
    "mixture x1, adv 2e-4": ("mixture", 1, 2e-4, True, 0.0, None),
    "mixture x5, adv 1e-4": ("mixture", 5, 1e-4, True, 0.0, None),
    "mixture x5, adv 2e-4": ("mixture", 5, 2e-4, True, 0.0, None),
    "mixture x5, adv 3e-4": ("mixture", 5, 3e-4, True, 0.0, None),
    "mixture x5, adv 5e-4": ("mixture", 5, 5e-4, True, 0.0, None),
    "swissroll R=3, adv 2e-4, noise 0.1": ("swissroll", 1, 2e-4, True, 0.1, None),
    "swissroll R=10, adv 2e-4": ("swissroll", 10 / 3, 2e-4, True, 0.0, None),
    "swissroll R=10, adv 2e-4, noise 0.33": ("swissroll", 10 / 3, 2e-4, True, 1 / 3, None),
    "swissroll R=10, adv 5e-4": ("swissroll", 10 / 3, 5e-4, True, 0.0, None),
    "swissroll R=10, adv 1e-3": ("swissroll", 10 / 3, 1e-3, True, 0.0, None),
    # Label-conditioned (Fig. 4, 20 % of labels): at the recipe's scale the codes ignored their labels (issue 11).
    "mixture x1, 20% labels, adv 1e-3": ("mixture", 1, 1e-3, True, 0.0, 0.2),
    "mixture x5, 20% labels, adv 2e-4": ("mixture", 5, 2e-4, True, 0.0, 0.2),
    "mixture x5, 20% labels, adv 1e-3": ("mixture", 5, 1e-3, True, 0.0, 0.2),
    "mixture x2, 20% labels, adv 1e-3": ("mixture", 2, 1e-3, True, 0.0, 0.2),
    "swissroll R=3, 20% labels, adv 1e-3": ("swissroll", 1, 1e-3, True, 0.0, 0.2),
    "swissroll R=10, 20% labels, adv 2e-4": ("swissroll", 10 / 3, 2e-4, True, 0.0, 0.2),
    "swissroll R=10, 20% labels, adv 1e-3": ("swissroll", 10 / 3, 1e-3, True, 0.0, 0.2),
    "swissroll R=6, 20% labels, adv 1e-3": ("swissroll", 2, 1e-3, True, 0.0, 0.2),
}
REPORTED = (
    "knn_accuracy",
    "prior_mmd_ratio",
    "prior_swd_ratio",
    "prior_coverage",
    "prior_density",
    "decoded_class_min_share",
    "component_share_max_dev",
    "roll_distance_median",
    "reconstruction_mse",
    "own_part",
)


def run_one(cell: str, seed: int, epochs: float) -> dict:
    """Train one cell's AAE with one seed and evaluate it."""
    import torch

    from aae_core.config import build_run_config
    from aae_core.data import load_dataset
    from aae_core.metrics import evaluate, part_of
    from aae_core.training import Trainer

    torch.set_num_threads(1)  # two runs share the two cores
    prior, scale, lr_adv, cool, noise, labels = CELLS[cell]
    data = load_dataset("mnist5k", seed=0)
    config = build_run_config(
        model="aae",
        prior=prior,
        input_dim=data.input_dim,
        n_classes=data.n_classes,
        **SCALED[prior](scale),
        seed=seed,
        lr_recon=1e-3,
        lr_disc=lr_adv,
        lr_gen=lr_adv,
        disc_noise=noise,
        epochs=epochs,
        cool_fraction=0.2 if cool else 0.0,
        label_conditioned=labels is not None,
        label_fraction=1.0 if labels is None else labels,
    )
    trainer = Trainer(config, data, publish_every_s=math.inf)
    trainer.run(epochs=epochs)
    metrics = evaluate(trainer.model, trainer.prior, trainer.data, seed=seed)
    codes = trainer.encode(trainer.data.x_test)
    # The share of held-out codes in their own label's part (chance: 1 / parts): what Fig. 4 shows.
    own = None if labels is None else float((part_of(codes, trainer.prior) == data.y_test.numpy()).mean())
    row = {"cell": cell, "seed": seed, "epochs": epochs, "code_std": codes.std(0).round(3).tolist()}
    return {**row, **metrics, "own_part": own}


def summarise(rows: list[dict]) -> dict:
    """Mean and sd over seeds of each reported number, per cell."""
    out = {}
    for cell in CELLS:
        mine = [r for r in rows if r["cell"] == cell]
        out[cell] = {"seeds": sorted(r["seed"] for r in mine)}
        for key in REPORTED:
            vals = [r[key] for r in mine if r.get(key) is not None]
            if vals:
                out[cell][key] = [
                    round(statistics.mean(vals), 4),
                    round(statistics.stdev(vals), 4) if len(vals) > 1 else 0.0,
                ]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=float, default=100)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default="bench/results/recipe-sweep.json")
    p.add_argument("--only", default="", help="run only the cells whose name contains this")
    args = p.parse_args()
    log = Path(args.out).with_suffix(".jsonl")
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    done = {(r["cell"], r["seed"]) for r in rows if r["epochs"] == args.epochs}
    todo = [(c, s) for s in range(args.seeds) for c in CELLS if (c, s) not in done and args.only in c]
    with ProcessPoolExecutor(args.workers) as pool, log.open("a") as f:
        for row in pool.map(run_one, *zip(*todo), [args.epochs] * len(todo)) if todo else ():
            rows.append(row)
            f.write(json.dumps(row) + "\n")
            f.flush()
            print(
                f"{row['cell']:<48} seed {row['seed']}: knn {row['knn_accuracy']:.3f}, "
                f"MMD {row['prior_mmd_ratio']:.1f}x floor, coverage {row['prior_coverage']:.3f}",
                flush=True,
            )
    rows = [json.loads(line) for line in log.read_text().splitlines()]  # with any other run's rows since
    result = {
        "dataset": "mnist5k",
        "size": "explorer",
        "epochs": args.epochs,
        "lr_recon": 1e-3,
        "batch_size": 100,
        "cool_down": "last 20% of steps at every lr / 10",
        "cells": {c: list(v) for c, v in CELLS.items()},
        "summary": summarise(rows),
        "runs": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
