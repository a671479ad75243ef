"""`aae-sweep GRID --out DIR`: a grid of `aae-train` runs on Ray Tune, the same command on a laptop or a cluster.

A grid file (TOML) has a `[fixed]` table of settings and a `[sweep]` table of axes (lists); every key is an
`aae-train` flag with underscores (`lr_disc` for `--lr-disc`), read off the train parser, so a flag added there
is a grid setting at once. The runs are the product of the axes. Every run's settings are checked exactly as
`aae-train` checks them (its parser, then building the run) before Ray starts. Each run is one Ray Tune trial
with one CPU and one torch thread (plus `--gpus-per-run` GPUs); it trains and saves through `runs.TrainingRun`
as `aae-train` does, then evaluates the checkpoint with `runs.evaluate_checkpoint`, which is `aae-eval --json`.

Under DIR:
  runs/<id>.safetensors, runs/<id>.json   a run's checkpoint, then its row (settings and metrics), written last:
                                          a run with a row is finished, and re-running the command skips it
  results.json                            the runs, and mean and sd of every metric per cell (a cell is all
                                          settings but `seed`); `sweep_results.load_results(DIR)` reads it back
  results.csv, summary.csv                the same two tables as CSV
  ray/                                    Tune's experiment folders: each trial's log and error
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from .config import AAEError
from .data import Dataset, load_dataset
from .runs import TrainingRun, evaluate_checkpoint
from .sweep_grid import Grid, Run, load_grid, parse_run
from .sweep_results import ERROR_FIELD, finished_rows, format_summary, write_json, write_results

INSTALL_HINT = 'aae-sweep needs Ray: pip install -e ".[cluster]" (or pip install "ray[tune]>=2.41")'


def check_runs(grid: Grid, out: Path) -> None:
    """Build every run as aae-train would (parser, dataset, RunConfig, Trainer) so a bad value is named before
    anything trains; the message says which run."""
    datasets: dict[tuple[str, int], Dataset] = {}
    for i, run in enumerate(grid.runs, 1):
        try:
            args = parse_run(run.settings, out / "runs" / run.id)
            key = (args.dataset, args.seed)
            if key not in datasets:
                datasets[key] = load_dataset(args.dataset, seed=args.seed)
            TrainingRun(args, data=datasets[key])
        except AAEError as e:
            raise AAEError(f"{grid.path}: {e} (run {i} of {len(grid.runs)}: {grid.describe(run)})") from None


def _finite(value: Any) -> Any:
    """NaN and inf as None, so every file is strict JSON and every CSV cell is a number or empty."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def train_and_evaluate(settings: dict[str, Any], out: Path) -> dict[str, Any]:
    """One run exactly as `aae-train` + `aae-eval --json`; returns its row: the settings, then aae-eval's keys."""
    args = parse_run(settings, out)
    training = TrainingRun(args)
    training.train()
    path, _ = training.save()
    result = evaluate_checkpoint(path, device=args.device)
    return {**settings, **{k: _finite(v) for k, v in result.items() if k not in settings}}


def finish_run(run: Run, out: Path) -> dict[str, Any]:
    """Train and evaluate one run of a sweep into `out`/runs, its row written last (so a row means finished).
    A run that aae-train would end with an error (training diverged, say) is finished too: its row has the
    message under `error`. aae-sweep's trials and aae-report's worker processes both run this."""
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    try:
        row = train_and_evaluate(run.settings, runs_dir / run.id)
    except AAEError as e:  # what aae-train would refuse or report (e.g. diverged): an outcome, not a crash
        row = {**run.settings, ERROR_FIELD: str(e)}
    write_json(runs_dir / f"{run.id}.json", row)
    return row


def _trial(config: dict) -> dict:
    """A Ray Tune trial: one run with one torch thread; Tune keeps its numeric results."""
    if not config["gpus"]:  # Ray leaves a GPU-less trial every GPU visible: hide them, so `auto` means the CPU
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch

    torch.set_num_threads(1)
    if Path(config["cwd"]).is_dir():  # Tune starts trials in their own folder: paths in a grid mean the caller's
        os.chdir(config["cwd"])
    row = finish_run(Run(**config["run"]), Path(config["out"]))
    return {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


# ---- running on Ray --------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aae-sweep",
        description="Run a grid of aae-train settings (a TOML file) on "
        "Ray Tune, locally or on a cluster; re-running the same command resumes it.",
    )
    p.add_argument("grid", help="TOML file with [fixed] settings and [sweep] axes (aae-train flags, underscores)")
    p.add_argument("--out", required=True, help="folder for the checkpoints and results.{json,csv}")
    p.add_argument("--address", help="a running Ray cluster: 'auto' or the head's HOST:PORT (default: a local Ray)")
    p.add_argument("--num-cpus", type=int, help="local Ray only: CPUs to use, one run each (default: all cores)")
    p.add_argument("--gpus-per-run", type=float, default=0.0, help="GPUs each run reserves (with --device auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _progress_callback(tune: Any, total: int, done: int, quiet: bool) -> Any:
    """A Tune callback drawing runs done and running as a tqdm bar on stderr."""
    from tqdm import tqdm

    class Progress(tune.Callback):
        def __init__(self) -> None:
            self.bar = tqdm(total=total, initial=done, unit="run", disable=quiet, file=sys.stderr, dynamic_ncols=True)
            self.running = self.failed = 0

        def _show(self) -> None:
            self.bar.set_postfix_str(f"{self.running} running" + (f", {self.failed} failed" if self.failed else ""))

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.running += 1
            self._show()

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.running -= 1
            self.bar.update(1)
            self._show()

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.running -= 1
            self.failed += 1
            self._show()

        def on_experiment_end(self, trials: list, **info: Any) -> None:
            self.bar.close()

    return Progress()


def tune_runs(todo: list[Run], total: int, out: Path, args: argparse.Namespace) -> dict[str, str]:
    """Run `todo` (of `total` in the grid) as one Ray Tune grid search; returns, for each run whose trial crashed,
    its trial folder (log and traceback) by run id."""
    import ray
    from ray import tune

    # Tune's newer console output prints an experiment banner even at verbose=0; the classic one stays silent.
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    logging.getLogger("ray.tune").setLevel(logging.CRITICAL)  # a crashed trial's traceback goes to its folder
    if args.address:
        try:
            ray.init(address=args.address, logging_level=logging.ERROR, log_to_driver=False)
        except ConnectionError as e:
            raise AAEError(f"--address {args.address}: {e}") from None
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            tune.with_resources(_trial, {"cpu": 1, "gpu": args.gpus_per_run}),
            param_space={
                "run": tune.grid_search([{"id": r.id, "settings": r.settings} for r in todo]),
                "out": str(out),
                "cwd": os.getcwd(),
                "gpus": args.gpus_per_run,
            },
            tune_config=tune.TuneConfig(reuse_actors=True, trial_dirname_creator=lambda t: t.config["run"]["id"]),
            run_config=tune.RunConfig(
                name=time.strftime(f"sweep-%Y%m%d-%H%M%S-{os.getpid()}"),
                storage_path=str(out / "ray"),
                verbose=0,
                log_to_file=True,
                callbacks=[_progress_callback(tune, total, total - len(todo), args.quiet)],
            ),
        )
        results = tuner.fit()
    finally:
        ray.shutdown()
    crashed: dict[str, str] = {}
    # Indexed: Ray's ResultGrid iterates only by the old __getitem__ protocol, which mypy does not follow.
    for i in range(len(results)):
        r = results[i]
        if r.error:
            assert r.config is not None  # Ray types it optional; every trial here is given param_space's config
            crashed[r.config["run"]["id"]] = r.path
    return crashed


def run(args: argparse.Namespace) -> int:
    """Check the grid, run the runs not yet finished on Ray, and write the tables; exit 1 while runs are missing."""
    try:
        import ray  # noqa: F401  (only checked here; tune_runs uses it)
    except ImportError:
        raise AAEError(INSTALL_HINT) from None
    if args.address and args.num_cpus is not None:
        raise AAEError("--num-cpus is for a local Ray; a cluster's CPUs are its own (drop --num-cpus or --address)")
    if not (math.isfinite(args.gpus_per_run) and args.gpus_per_run >= 0):
        raise AAEError(f"--gpus-per-run={args.gpus_per_run}: must be a number >= 0")
    if args.num_cpus is not None and args.num_cpus < 1:
        raise AAEError(f"--num-cpus={args.num_cpus}: must be at least 1")
    grid = load_grid(args.grid)
    out = Path(args.out).resolve()
    check_runs(grid, out)
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AAEError(f"--out {out}: cannot create the folder ({e.strerror})") from None
    todo = [run for run, row in zip(grid.runs, finished_rows(out, grid)) if row is None]
    print(f"{len(grid.runs)} runs: {len(grid.runs) - len(todo)} already done, {len(todo)} to run", flush=True)
    crashed = tune_runs(todo, len(grid.runs), out, args) if todo else {}
    results = write_results(out, grid)
    print(format_summary(results))
    print(f"wrote {out / 'results.csv'}, {out / 'results.json'} and {out / 'summary.csv'}")
    for run, row in zip(grid.runs, finished_rows(out, grid)):
        if row is not None and ERROR_FIELD in row:
            print(f"aae-sweep: run {grid.describe(run)}: {row[ERROR_FIELD]}", file=sys.stderr)
        if run.id in crashed:
            print(
                f"aae-sweep: run {grid.describe(run)} crashed; its log and traceback: {crashed[run.id]}",
                file=sys.stderr,
            )
    if results.missing:
        print(
            f"aae-sweep: {results.missing} of {len(grid.runs)} runs not finished; run the same command again "
            f"to finish them",
            file=sys.stderr,
        )
        return 1
    return 0
