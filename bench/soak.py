"""Soak: one job trains for minutes while a simulated page polls it the way the app does; resident memory
must stay flat and every per-job buffer bounded.

The page's side, every 0.5 s: read the snapshot (live plots). Every 2 s: a frozen copy of the weights (the
latent pad's decoder). Every 5 s: background metrics. Every 30 s: pause, three single steps, a learning-rate
change, resume. RSS is sampled every 5 s; the slope is a least-squares fit over the run after a warm-up.

    flock /tmp/aae-cpu.lock python -m bench.soak --minutes 10 --out bench/results/soak.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from aae_core.config import build_run_config
from aae_core.data import load_dataset
from aae_core.registry import JobRegistry
from aae_core.timing import rss_mb
from aae_core.training import MAX_TIMELINE


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--prior", default="mixture")
    p.add_argument("--warmup-s", type=float, default=60.0, help="samples before this are left out of the slope")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()

    data = load_dataset(args.dataset)
    config = build_run_config(model="aae", prior=args.prior, input_dim=data.input_dim)
    registry = JobRegistry(max_live=1)
    job = registry.start(registry.lease().owner, "soak", config, data)
    history_len = config.train.history_len
    samples, bounds_ok, start = [], True, time.monotonic()
    next_sample = next_pad = next_metrics = 0.0
    next_poke = 30.0
    try:
        while (now := time.monotonic() - start) < args.minutes * 60:
            snap = job.snapshot()
            bounds_ok &= (
                all(len(v) <= history_len for v in snap.history.values())
                and len(snap.timeline) <= MAX_TIMELINE
                and snap.error is None
            )
            if now >= next_pad:
                job.frozen_model()
                next_pad = now + 2
            if now >= next_metrics:
                job.metrics(max_age_s=5)
                next_metrics = now + 5
            if now >= next_poke:
                job.pause()
                for phase in ("disc", "gen", "full"):
                    job.step(phase)
                job.update_settings(lr_disc=3e-4 if job.train_settings.lr_disc == 2e-4 else 2e-4)
                job.resume()
                next_poke = now + 30
            if now >= next_sample:
                samples.append(
                    {
                        "t_s": round(now, 1),
                        "rss_mb": round(rss_mb(), 1),
                        "step": snap.step,
                        "history": len(snap.history["step"]),
                        "timeline": len(snap.timeline),
                    }
                )
                next_sample = now + 5
            time.sleep(0.5)
    finally:
        registry.stop_all()

    t = np.array([s["t_s"] for s in samples])
    rss = np.array([s["rss_mb"] for s in samples])
    steady = t >= args.warmup_s
    slope = float(np.polyfit(t[steady] / 60, rss[steady], 1)[0]) if steady.sum() >= 3 else None
    result = {
        "command": f"python -m bench.soak --minutes {args.minutes:g}",
        "dataset": args.dataset,
        "prior": args.prior,
        "minutes": args.minutes,
        "steps": samples[-1]["step"],
        "history_len": history_len,
        "max_timeline": MAX_TIMELINE,
        "bounds_held": bool(bounds_ok),
        "rss_mb": {
            "first": samples[0]["rss_mb"],
            "after_warmup": float(rss[steady][0]) if steady.any() else None,
            "peak": float(rss.max()),
            "end": samples[-1]["rss_mb"],
        },
        "rss_slope_mb_per_min_after_warmup": None if slope is None else round(slope, 3),
        "samples": samples,
    }
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))


if __name__ == "__main__":
    main()
