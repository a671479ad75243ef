"""How long the AAE takes to settle on a drawn prior (issue 12): the app's default AAE (the recipe, explorer size,
mnist5k) trains on a hand-drawn shape from initialisation, and every `--every` steps its held-out codes' mean
distance to the drawing is compared with a prior sample's (the same count, seed 0). Settled: the first check at
which the codes' distance is within 2x the sample's. Reports steps and the seconds of training to that point
(training only: the checks are not timed), per seed, with mean and sd.

    flock /tmp/aae-cpu.lock python -m bench.draw_settle --out bench/results/draw-settle.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from aae_core.config import build_run_config
from aae_core.data import load_dataset
from aae_core.drawn_prior import Drawing, encode
from aae_core.training import Trainer


def heart(n: int = 80, scale: float = 0.6) -> list[list[float]]:
    """A heart about 20 units wide: the size of shape one draws on the app's ±15 pad."""
    t = np.linspace(0, 2 * np.pi, n + 1)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return (scale * np.c_[x, y]).tolist()


def settle(data, seed: int, every: int, max_steps: int, factor: float) -> dict:
    """Steps and training seconds until the codes lie within `factor` x a prior sample's distance to the drawing."""
    config = build_run_config(model="aae", prior="points", points=encode(Drawing.of([heart()])), seed=seed)
    trainer = Trainer(config, data, publish_every_s=math.inf)
    prior = trainer.prior
    x = trainer.eval_x
    floor = float(prior.distance(prior.sample(len(x), generator=torch.Generator().manual_seed(0))).mean())
    seconds, curve = 0.0, []
    while trainer.step_count < max_steps:
        start = time.perf_counter()
        for _ in range(every):
            trainer.step()
        seconds += time.perf_counter() - start
        d = float(prior.distance(torch.as_tensor(trainer.encode(x))).mean())
        curve.append((trainer.step_count, round(d, 3)))
        print(f"  seed {seed} step {trainer.step_count}: {d:.3f} (floor {floor:.3f})", flush=True)
        if d <= factor * floor:
            return {"seed": seed, "steps": trainer.step_count, "seconds": round(seconds, 2), "floor": floor,
                    "distance": d, "curve": curve}  # fmt: skip
    return {"seed": seed, "steps": None, "seconds": None, "floor": floor, "distance": curve[-1][1], "curve": curve}


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
    runs = []
    for seed in range(args.seeds):
        r = settle(data, seed, args.every, args.max_steps, args.factor)
        runs.append(r)
        print(f"seed {r['seed']}: settled at step {r['steps']} after {r['seconds']} s of training "
              f"(distance {r['distance']:.3f}, a prior sample's {r['floor']:.3f})", flush=True)  # fmt: skip
    done = [r for r in runs if r["steps"] is not None]
    summary = {
        key: (statistics.mean(r[key] for r in done), statistics.stdev(r[key] for r in done) if len(done) > 1 else 0.0)
        for key in ("steps", "seconds")
    } if done else {}  # fmt: skip
    result = {"factor": args.factor, "every": args.every, "max_steps": args.max_steps, "settled": len(done),
              "of": len(runs), "mean_sd": summary, "runs": runs}  # fmt: skip
    for key, (mean, sd) in summary.items():
        print(f"{key}: {mean:.1f} ± {sd:.1f} over {len(done)} of {len(runs)} seeds")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
