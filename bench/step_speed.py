"""Training-step speed of this checkout against an earlier one, in the same process and the same minutes: one job
alone at 1 and 2 torch threads, and an AAE and a VAE at the explorer size training side by side on two threads
as the app's jobs do (aae_core.jobs: one worker thread per job, each capping its own torch threads).

    git worktree add /tmp/before d7e0f98
    flock /tmp/aae-cpu.lock python -m bench.step_speed --before /tmp/before --out bench/results/step_speed.json

The earlier checkout's `aae_core` is imported under another name, so both Trainers run in one interpreter. Each
round times one window of every variant, "before" and "after" alternating first; a variant's figure is its best
window (the least disturbed by other work on the machine), the ratio's spread is over the rounds.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import torch

from aae_core.timing import cpu_name

SINGLE = (("aae", "explorer"), ("vae", "explorer"), ("aae", "paper"), ("vae", "paper"))


def load_checkout(name: str, root: Path) -> ModuleType:
    """The `aae_core` package of the checkout at `root`, imported as `name`."""
    spec = importlib.util.spec_from_file_location(
        name, root / "aae_core" / "__init__.py", submodule_search_locations=[str(root / "aae_core")]
    )
    assert spec is not None and spec.loader is not None, f"{root}: no aae_core package"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Code:
    """One checkout's Trainer, config builder and data."""

    def __init__(self, package: str):
        self.training = importlib.import_module(f"{package}.training")
        self.config = importlib.import_module(f"{package}.config")
        self.data = importlib.import_module(f"{package}.data").load_dataset("mnist5k")

    def trainer(self, model: str, size: str):
        config = self.config.build_run_config(model=model, size=size)
        return self.training.Trainer(config, self.data, publish_every_s=math.inf)


def alone(trainer, threads: int, seconds: float) -> float:
    """Samples/s of one trainer stepping for `seconds` at `threads` torch threads."""
    torch.set_num_threads(threads)
    steps, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        trainer.step()
        steps += 1
    return steps * trainer.config.train.batch_size / (time.perf_counter() - t)


def side_by_side(trainers: list, threads: int, seconds: float) -> list[float]:
    """Samples/s of each trainer, all stepping at once on their own Python threads (as the app's jobs)."""
    counts = [0] * len(trainers)
    start = threading.Barrier(len(trainers) + 1)

    def work(i: int) -> None:
        torch.set_num_threads(threads)  # per thread, as aae_core.jobs sets it
        start.wait()
        t = time.perf_counter()
        while time.perf_counter() - t < seconds:
            trainers[i].step()
            counts[i] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(trainers))]
    for w in workers:
        w.start()
    start.wait()
    t = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t
    return [c * tr.config.train.batch_size / elapsed for c, tr in zip(counts, trainers)]


def summary(rates: list[float]) -> dict:
    return {"best": round(max(rates), 1), "median": round(statistics.median(rates), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="root of the earlier checkout (git worktree add /tmp/before REV)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--window-s", type=float, default=2.0)
    p.add_argument("--out", help="write the JSON here")
    args = p.parse_args()
    load_checkout("aae_before", Path(args.before).resolve())
    code = {"before": Code("aae_before"), "after": Code("aae_core")}
    single = {(v, m, s): c.trainer(m, s) for v, c in code.items() for m, s in SINGLE}
    pairs = {v: [c.trainer("aae", "explorer"), c.trainer("vae", "explorer")] for v, c in code.items()}
    rates: dict[str, list[float]] = {}
    for r in range(args.rounds):
        order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
        for model, size in SINGLE:
            for threads in (1, 2):
                for v in order:
                    key = f"{model}_{size}_{threads}t_{v}"
                    rates.setdefault(key, []).append(alone(single[(v, model, size)], threads, args.window_s))
        for threads in (1, 2):
            for v in order:
                aae, vae = side_by_side(pairs[v], threads, args.window_s)
                rates.setdefault(f"side_by_side_{threads}t_{v}_aae", []).append(aae)
                rates.setdefault(f"side_by_side_{threads}t_{v}_vae", []).append(vae)
                rates.setdefault(f"side_by_side_{threads}t_{v}_total", []).append(aae + vae)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    speedups = {
        key.removesuffix("_after"): round(max(rates[key]) / max(rates[key.replace("_after", "_before")]), 3)
        for key in rates
        if key.endswith("_after")
    }
    speedups |= {
        f"side_by_side_{t}t_{part}": round(
            max(rates[f"side_by_side_{t}t_after_{part}"]) / max(rates[f"side_by_side_{t}t_before_{part}"]), 3
        )
        for t in (1, 2)
        for part in ("aae", "vae", "total")
    }
    result = {
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch": torch.__version__,
                    "load_avg_1min_at_end": round(os.getloadavg()[0], 2)},
        "before": str(Path(args.before).resolve()),
        "timing": f"{args.rounds} rounds of ~{args.window_s} s windows, before/after alternating; samples/s",
        "samples_per_s": {k: summary(v) for k, v in rates.items()},
        "after_over_before_best": speedups,
    }  # fmt: skip
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
