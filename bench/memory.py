"""Resident memory of the app's worst ordinary case: two sessions, each training an AAE and a VAE at once
(four Trainers in four threads, publishing every 0.5 s as the app's workers do).

    flock /tmp/aae-cpu.lock python bench/memory.py --seconds 60 --out bench/results/memory.json
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

from aae_core.bench import rss_mb
from aae_core.config import build_run_config
from aae_core.data import load_dataset
from aae_core.training import Trainer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--size", choices=("explorer", "paper"), default="explorer")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--sessions", type=int, default=2)
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    base = rss_mb()
    data = load_dataset(args.dataset)   # one copy shared by every trainer, as the app's cached loader does
    after_data = rss_mb()
    trainers = [Trainer(build_run_config(model=kind, prior="mixture", size=args.size, input_dim=data.input_dim,
                                         seed=session), data)
                for session in range(args.sessions) for kind in ("aae", "vae")]
    after_build = rss_mb()
    stop = threading.Event()
    workers = [threading.Thread(target=t.run, kwargs={"stop": stop}) for t in trainers]
    for w in workers:
        w.start()
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        time.sleep(0.5)
        samples.append(rss_mb())
    stop.set()
    for w in workers:
        w.join()
    half = len(samples) // 2
    result = {"dataset": args.dataset, "size": args.size, "trainers": len(trainers), "seconds": args.seconds,
              "rss_mb": {"baseline": round(base, 1), "after_data": round(after_data, 1),
                         "after_build": round(after_build, 1), "peak": round(max(samples), 1),
                         "end": round(samples[-1], 1),
                         "growth_second_half": round(samples[-1] - samples[half], 1)},
              "steps": [t.step_count for t in trainers],
              "samples_per_s_total": round(sum(t.samples_seen for t in trainers) / args.seconds, 1)}
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
