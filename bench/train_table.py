"""The core's headline table: {AAE, VAE} x {gaussian, mixture, swissroll} on mnist5k, 2-D codes, a fixed
number of seconds each, through the real CLI (aae-train then aae-eval --json).

    python -m bench.train_table --seconds 30      # writes bench/results/train_table.json and prints markdown
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from aae_core.metrics import METRIC_KEYS

RESULTS = Path(__file__).parent / "results" / "train_table.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("aae", "vae"):
            for prior in ("gaussian", "mixture", "swissroll"):
                out = f"{tmp}/{model}-{prior}"
                train = [
                    sys.executable,
                    "-m",
                    "aae_core",
                    "train",
                    "--model",
                    model,
                    "--prior",
                    prior,
                    "--dataset",
                    "mnist5k",
                    "--latent-dim",
                    "2",
                    "--seconds",
                    str(args.seconds),
                    "--out",
                    out,
                    "--quiet",
                ]
                summary = subprocess.run(train, check=True, capture_output=True, text=True).stdout.splitlines()[0]
                result = json.loads(
                    subprocess.run(
                        [sys.executable, "-m", "aae_core", "eval", out, "--json"],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                )
                rows.append(
                    {
                        "model": model,
                        "prior": prior,
                        "summary": summary,
                        **{k: result[k] for k in (*METRIC_KEYS, "prior_mmd_ratio", "step")},
                    }
                )
                print(summary, file=sys.stderr)
    RESULTS.write_text(json.dumps({"seconds": args.seconds, "rows": rows}, indent=1))
    print("| model | prior | steps | " + " | ".join(METRIC_KEYS) + " |")
    print("|---|---|---|" + "---|" * len(METRIC_KEYS))
    for r in rows:
        print(f"| {r['model']} | {r['prior']} | {r['step']} | " + " | ".join(f"{r[k]:.4f}" for k in METRIC_KEYS) + " |")


if __name__ == "__main__":
    main()
