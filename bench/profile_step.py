"""Where a training step's time goes: torch.profiler over real `Trainer.step` calls, grouped into
matmul / optimizer / elementwise+other, so the gap between achieved GFLOP/s and the matmul peak has names.

    flock /tmp/aae-cpu.lock python -m bench.profile_step --model aae --size paper [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch.profiler import ProfilerActivity, profile

from aae_core.config import build_run_config
from aae_core.data import load_dataset
from aae_core.training import Trainer

MATMUL = {"aten::mm", "aten::addmm", "aten::bmm", "aten::addmv", "aten::mv"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("aae", "vae"), default="aae")
    p.add_argument("--size", choices=("paper", "explorer"), default="paper")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rows", type=int, default=15, help="top operators to list")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice; the app's jobs use 1)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("mnist5k")
    trainer = Trainer(build_run_config(model=args.model, size=args.size), data, publish_every_s=math.inf)
    for _ in range(10):
        trainer.step()
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            trainer.step()
    wall_ms = (time.perf_counter() - start) / args.steps * 1e3
    events = prof.key_averages()
    # Self time of every operator, so nothing is counted twice; optimizer kernels run inside Optimizer.step.
    total = sum(e.self_cpu_time_total for e in events) / args.steps / 1e3
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMUL) / args.steps / 1e3
    adam = sum(e.self_cpu_time_total for e in events if "adam" in e.key.lower()) / args.steps / 1e3
    print(f"{args.model} {args.size}: {wall_ms:.2f} ms/step under the profiler; operator self time {total:.2f} ms/step")
    for name, ms in (("matmul (mm, addmm)", matmul), ("Adam", adam), ("everything else", total - matmul - adam)):
        print(f"  {name:<20} {ms:7.2f} ms  {ms / total:6.1%}")
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
