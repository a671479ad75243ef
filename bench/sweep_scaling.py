"""What Ray costs and buys for `aae-sweep`: wall time of one 8-run grid as a plain loop in one process (one torch
thread, the runs one after another), and through `aae-sweep` with 1 and with 2 concurrent trials (a local Ray with
1 and 2 CPUs), all in the same invocation, each a fresh process timed from its start, with the load average beside
each. The three are interleaved --repeats times and the best of each is compared (the least disturbed by other
work on the machine). The loop runs the very function each trial runs (aae_core.sweep.train_and_evaluate), and
the rows must match.

    flock /tmp/aae-cpu.lock python -m bench.sweep_scaling --out bench/results/sweep_scaling.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ray
import torch

from aae_core.sweep_results import load_results
from aae_core.timing import cpu_name

GRID = """\
[fixed]
dataset = "mnist5k"
model = "aae"
prior = "mixture"
epochs = 10
device = "cpu"
[sweep]
lr_disc = [2e-4, 1e-3]
seed = [0, 1, 2, 3]
"""

LOOP = """\
import json, sys, torch
from pathlib import Path
from aae_core.sweep import load_grid, train_and_evaluate
torch.set_num_threads(1)
grid, out = load_grid(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True)
rows = [train_and_evaluate(run.settings, out / run.id) for run in grid.runs]
(out / "rows.json").write_text(json.dumps(rows))
"""


def timed(command: list[str]) -> dict:
    """Wall seconds of a command in a fresh process, the 1-minute load average before and after, and cpu_seconds:
    user + sys of the processes it reaped (RUSAGE_CHILDREN). That is all of the loop's work, but for a sweep only
    its driver and the Ray processes the driver reaps: the trials' workers are not counted."""

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    load, cpu_before, start = os.getloadavg()[0], cpu(), time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "cpu_seconds": round(cpu() - cpu_before, 2),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="JSON file for the results")
    p.add_argument("--repeats", type=int, default=2, help="rounds of the three measurements")
    args = p.parse_args()
    timings: dict[str, list[dict]] = {"plain_loop": [], "sweep_1_concurrent": [], "sweep_2_concurrent": []}

    def strip(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "checkpoint"} for r in rows]

    same = True
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            grid = Path(tmp) / "grid.toml"
            grid.write_text(GRID)
            sweep = [sys.executable, "-m", "aae_core", "sweep", str(grid), "--quiet", "--out"]
            timings["plain_loop"].append(timed([sys.executable, "-c", LOOP, str(grid), f"{tmp}/loop"]))
            timings["sweep_1_concurrent"].append(timed([*sweep, f"{tmp}/ray1", "--num-cpus", "1"]))
            timings["sweep_2_concurrent"].append(timed([*sweep, f"{tmp}/ray2", "--num-cpus", "2"]))
            loop_rows = strip(json.loads(Path(f"{tmp}/loop/rows.json").read_text()))
            same &= all(strip(load_results(f"{tmp}/{d}").runs) == loop_rows for d in ("ray1", "ray2"))
    loop, one, two = (min(t["seconds"] for t in timings[k]) for k in timings)
    result = {
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "ray": ray.__version__,
        },
        "grid": GRID,
        "runs": 8,
        "torch_threads_per_run": 1,
        "timings": timings,
        "best_seconds": {"plain_loop": loop, "sweep_1_concurrent": one, "sweep_2_concurrent": two},
        "ray_overhead_1_concurrent": round(one / loop - 1, 3),
        "speedup_2_vs_1_concurrent": round(one / two, 3),
        "speedup_2_concurrent_vs_loop": round(loop / two, 3),
        "rows_identical_to_loop": same,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
