"""Evidence for the learning-rate defaults: training steps until the explorer-default mixture AAE on mnist5k
meets aae_core.bench.FIT_TARGET, for a few learning-rate settings and seeds. Counted in steps, not seconds,
so other load on the machine cannot bias the comparison; `aae-bench` turns steps into seconds.

    flock /tmp/aae-cpu.lock python -m bench.fit_tuning --out bench/results/fit-tuning.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from aae_core.bench import FIT_TARGET, fit_check
from aae_core.config import build_run_config
from aae_core.data import load_dataset
from aae_core.training import Trainer

SETTINGS = {
    "lr_recon=1e-3 (old default)": {"lr_recon": 1e-3},
    "lr_recon=2e-3 (new default)": {"lr_recon": 2e-3},
    "lr_recon=3e-3": {"lr_recon": 3e-3},
    "lr_recon=2e-3, lr_disc=lr_gen=5e-4": {"lr_recon": 2e-3, "lr_disc": 5e-4, "lr_gen": 5e-4},
    "lr_recon=2e-3, lr_disc=lr_gen=1e-4": {"lr_recon": 2e-3, "lr_disc": 1e-4, "lr_gen": 1e-4},
}


def steps_to_fit(data, seed: int, every: int, max_steps: int, lrs: dict) -> int | None:
    """First checked step count at which the target is met, or None within max_steps."""
    trainer = Trainer(
        build_run_config(model="aae", prior="mixture", size="explorer", seed=seed, **lrs),
        data,
        publish_every_s=float("inf"),
    )
    while trainer.step_count < max_steps:
        for _ in range(every):
            trainer.step()
        if fit_check(trainer)[2]:
            return trainer.step_count
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--every", type=int, default=10, help="steps between checks")
    p.add_argument("--max-steps", type=int, default=800)
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    data = load_dataset("mnist5k")
    result = {"target": FIT_TARGET, "every": args.every, "max_steps": args.max_steps, "settings": {}}
    for name, lrs in SETTINGS.items():
        steps = [steps_to_fit(data, seed, args.every, args.max_steps, lrs) for seed in range(args.seeds)]
        reached = [s for s in steps if s is not None]
        median = statistics.median(
            float("inf") if s is None else s for s in steps
        )  # an unreached seed counts as slowest
        result["settings"][name] = {
            "lrs": lrs,
            "steps_by_seed": steps,
            "reached": f"{len(reached)}/{len(steps)}",
            "median_steps": None if median == float("inf") else median,
        }
        print(
            f"{name:<40} {result['settings'][name]['reached']} seeds, "
            f"median {result['settings'][name]['median_steps']} steps {steps}",
            flush=True,
        )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
