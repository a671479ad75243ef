"""torch.compile against eager for the Trainer's AAE step (issue 16): the encoder, decoder and discriminator are
each wrapped in `torch.compile` (inductor, static shapes) and the same seeded Trainer is timed both ways, in one
process, at each size and thread count asked for. Compile time (the first steps, which trace and build the
kernels) is reported apart from the steady state, which is the best of `--windows` windows of `--window-s`.

    flock /tmp/aae-cpu.lock python -m bench.compile_speed --out bench/results/compile_speed.json

Run it with TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 for cold compile times: inductor otherwise reuses kernels an
earlier run left on disk. The discriminator sees 100 and 200 rows and the encoder inputs with and without
requires_grad, so dynamo recompiles several times and, past its recompile limit (8), runs the rest eagerly:
this measures the plain wrapping a user would try first. The project keeps eager mode, as compiled
steps are not faster here; this is the measurement behind that.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import torch

from aae_core.config import build_run_config
from aae_core.data import load_dataset
from aae_core.training import Trainer

WARM_STEPS = 5  # enough for every shape a step uses to be traced and compiled


def trainer(data, size: str, compiled: bool) -> Trainer:
    t = Trainer(build_run_config(model="aae", size=size, seed=0), data, publish_every_s=math.inf)
    if compiled:
        torch._dynamo.reset()  # dynamo's recompile limit counts per wrapped function, across earlier trainers
        for name in ("encoder", "decoder", "discriminator"):
            setattr(t.model, name, torch.compile(getattr(t.model, name), dynamic=False))
    return t


def timed(t: Trainer, windows: int, window_s: float) -> dict:
    """Seconds of the first steps (compiling, if compiled), then the best window's samples/s."""
    start = time.perf_counter()
    for _ in range(WARM_STEPS):
        t.step()
    first_s = time.perf_counter() - start
    best = 0.0
    for _ in range(windows):
        start, steps = time.perf_counter(), 0
        while time.perf_counter() - start < window_s:
            t.step()
            steps += 1
        best = max(best, steps * t.config.train.batch_size / (time.perf_counter() - start))
    return {"first_steps_s": round(first_s, 2), "samples_per_s": round(best, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="explorer,paper")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--window-s", type=float, default=1.5)
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    data = load_dataset("mnist5k")
    rows = []
    for size in args.sizes.split(","):
        for threads in map(int, args.threads.split(",")):
            torch.set_num_threads(threads)
            eager = timed(trainer(data, size, False), args.windows, args.window_s)
            compiled = timed(trainer(data, size, True), args.windows, args.window_s)
            ratio = round(compiled["samples_per_s"] / eager["samples_per_s"], 3)
            rows.append({"size": size, "threads": threads, "eager": eager, "compiled": compiled, "ratio": ratio})
            print(f"AAE {size}, {threads} thread(s): eager {eager['samples_per_s']:,.0f} samples/s; compiled "
                  f"{compiled['samples_per_s']:,.0f} ({ratio}x), its first {WARM_STEPS} steps "
                  f"{compiled['first_steps_s']} s", flush=True)  # fmt: skip
    result = {
        "machine": {"cores": os.cpu_count(), "torch": torch.__version__, "load_avg_1min_at_end": os.getloadavg()[0]},
        "timing": f"best of {args.windows} windows of ~{args.window_s} s after {WARM_STEPS} warm-up steps",
        "runs": rows,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
