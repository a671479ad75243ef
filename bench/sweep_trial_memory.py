"""What one `aae-sweep` trial needs in memory: the peak resident set of one run (aae_core.sweep.train_and_evaluate,
one torch thread, one epoch) in a fresh process that has imported Ray as a trial's worker has, per dataset and
model size.

    flock /tmp/aae-cpu.lock python -m bench.sweep_trial_memory --out bench/results/sweep_trial_memory.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CASES = [
    {"dataset": "digits", "size": "explorer"},
    {"dataset": "mnist5k", "size": "explorer"},
    {"dataset": "mnist5k", "size": "paper"},
    {"dataset": "fashion", "size": "explorer"},
    {"dataset": "fashion", "size": "paper"},
]

RUN = """\
import json, resource, sys, tempfile, torch
from pathlib import Path
import ray  # noqa: F401  (a trial's worker process has Ray loaded)
from aae_core.sweep import train_and_evaluate
torch.set_num_threads(1)
settings = {**json.loads(sys.argv[1]), "epochs": 1, "device": "cpu"}
with tempfile.TemporaryDirectory() as tmp:
    row = train_and_evaluate(settings, Path(tmp) / "run")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_rss_mib": round(peak), "step": row["step"]}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="JSON file for the results")
    args = p.parse_args()
    rows = []
    for case in CASES:
        run = subprocess.run([sys.executable, "-c", RUN, json.dumps(case)], check=True, capture_output=True, text=True)
        rows.append({**case, **json.loads(run.stdout.strip().splitlines()[-1])})
        print(rows[-1], flush=True)
    method = " ".join(__doc__.split("\n\n")[0].split())
    args.out.write_text(json.dumps({"method": method, "runs": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
