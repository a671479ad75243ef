"""How long the AAE takes to settle on a drawn prior (issue 12): the app's AAE (explorer size, mnist5k) trains on
a hand-drawn shape from initialisation, with the recipe's adversarial rates and with the Draw tab's
(aae_core.settings.DRAWN), and every `--every` steps its held-out codes' mean distance to the drawing is compared
with a prior sample's (the same count, seed 0). Settled: the first check at which the codes' distance is within
2x the sample's. Every run trains `--max-steps`; reported per seed, with mean and sd: the steps and seconds of
training to the first settled check (training only: the checks are not timed), and at the end the distance, the
codes' coverage of a prior sample (Naeem et al.: codes piled on one part of the drawing score low) and
their 5-NN accuracy (what the faster adversary costs).

    flock /tmp/aae-cpu.lock python -m bench.draw_settle --out bench/results/draw-settle.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from aae_core.config import build_run_config
from aae_core.data import load_dataset
from aae_core.drawn_prior import Drawing, encode
from aae_core.metrics import coverage_density, knn_accuracy
from aae_core.report_doc import summary
from aae_core.settings import DRAWN
from aae_core.training import Trainer


def heart(n: int = 80, scale: float = 0.6) -> list[list[float]]:
    """A heart about 20 units wide: the size of shape one draws on the app's ±15 pad."""
    t = np.linspace(0, 2 * np.pi, n + 1)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return (scale * np.c_[x, y]).tolist()


def settle(data, seed: int, every: int, max_steps: int, factor: float, rates: dict) -> dict:
    """Steps and training seconds until the codes first lie within `factor` x a prior sample's distance to the
    drawing, and after `max_steps` the distance, the codes' coverage and their 5-NN accuracy."""
    config = build_run_config(model="aae", prior="points", points=encode(Drawing.of([heart()])), seed=seed, **rates)
    trainer = Trainer(config, data, publish_every_s=math.inf)
    prior = trainer.prior
    x = trainer.eval_x
    floor = float(prior.distance(prior.sample(len(x), generator=torch.Generator().manual_seed(0))).mean())
    seconds, curve, settled = 0.0, [], None
    while trainer.step_count < max_steps:
        start = time.perf_counter()
        for _ in range(every):
            trainer.step()
        seconds += time.perf_counter() - start
        codes = trainer.encode(x)
        d = float(prior.distance(torch.as_tensor(codes)).mean())
        curve.append((trainer.step_count, round(d, 3)))
        if d <= factor * floor and settled is None:
            settled = (trainer.step_count, round(seconds, 2))
    # Closeness alone is met by codes piled on one part of the drawing: coverage says whether they fill it.
    coverage, _ = coverage_density(prior.sample(len(x), generator=torch.Generator().manual_seed(1)).numpy(), codes)
    knn = knn_accuracy(trainer.encode(data.x_train), data.y_train.numpy(), codes, trainer.eval_y)
    steps, secs = settled or (None, None)
    return {"seed": seed, "steps": steps, "seconds": secs, "floor": floor, "distance": curve[-1][1],
            "coverage": coverage, "knn_accuracy": knn, "curve": curve}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--every", type=int, default=20, help="steps between checks")
    p.add_argument("--max-steps", type=int, default=4000)
    p.add_argument("--factor", type=float, default=2.0)
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    torch.set_num_threads(2)
    data = load_dataset("mnist5k")
    result: dict = {"factor": args.factor, "every": args.every, "max_steps": args.max_steps, "rates": {}}
    for name, rates in (("recipe", {}), ("draw tab", DRAWN)):
        runs = [settle(data, seed, args.every, args.max_steps, args.factor, rates) for seed in range(args.seeds)]
        done = [r for r in runs if r["steps"] is not None]
        row = {"settings": rates, "settled": len(done), "of": len(runs), "runs": runs}
        row.update({key: summary([r[key] for r in done]) for key in ("steps", "seconds")})
        row.update({key: summary([r[key] for r in runs]) for key in ("distance", "coverage", "knn_accuracy")})
        result["rates"][name] = row
        print(f"{name} {rates}: settled in {len(done)} of {len(runs)} seeds", flush=True)
        for r in runs:
            print(
                f"  seed {r['seed']}: settled at step {r['steps']} after {r['seconds']} s of training; last "
                f"distance {r['distance']:.3f} (a prior sample's {r['floor']:.3f}); coverage {r['coverage']:.3f}; "
                f"5-NN {r['knn_accuracy']:.3f}",
                flush=True,
            )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
