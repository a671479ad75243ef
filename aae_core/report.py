"""`aae-report`: the paper's Fig. 2, Fig. 4, Fig. 5 and Table 1, reproduced over several seeds.

The report's runs are an aae-sweep grid, `aae_core/grids/report.toml` (`report-quick.toml` with --quick): each
model with the project's one recipe for a number of epochs (never seconds, so the results do not depend on the
machine's speed), for each seed. `aae-report` trains the runs not yet finished under `--runs DIR` in a pool of
worker processes (one torch thread each) exactly as `aae-sweep` would; with `--from-sweep DIR` it reads a
finished `aae-sweep` of the same grid (run on a Ray cluster, say) and trains nothing. Either way a finished run
is never redone. Then aae_core.report_measures evaluates every run from its checkpoint, and aae_core.report_doc
draws the figures and writes `report.md`. With `--checkpoints DIR` the first seed's 2-D models are also saved as
the explorer's demos; their weights are rounded to float16 *before* they are evaluated, so the report, the
stored metadata and a re-evaluation of the shipped file all agree.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shlex
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from importlib import resources
from pathlib import Path

import torch

from . import report_categorical as categorical
from . import report_figures
from .config import AAEError
from .data import FASHION_DIR, load_dataset
from .files import write_atomic
from .models import AutoEncoderBase, build_model
from .report_doc import Inputs, demo_title, summary, write
from .report_measures import DEMO_RUNS, FULL, PARZEN_DIM, PARZEN_STD, QUICK, SHIPPED, is_parzen, measure, pca_knn
from .sweep import check_runs, finish_run
from .sweep_grid import Grid, Run, load_grid, run_id
from .sweep_results import ERROR_FIELD, finished_rows
from .untrusted import check_output_dir

DEMO_DATASET = "mnist5k"
MNIST_HOLDOUT = 2000  # --mnist-dir: validation images held out of full MNIST's 60K, as for Fashion-MNIST


def grid_path(quick: bool) -> Path:
    """The report's grid file, shipped inside the package."""
    return Path(str(resources.files(__package__).joinpath("grids", "report-quick.toml" if quick else "report.toml")))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aae-report",
        description="Reproduce the paper's Fig. 2, 4, 5 and Table 1 "
        "analogues over several seeds and write a markdown report with its figures.",
    )
    p.add_argument("--out", default="docs", help="folder for report.md and its PNG figures (default: docs)")
    p.add_argument("--quick", action="store_true", help="tiny budgets: every section in a few minutes (for CI)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--runs", metavar="DIR", default="runs/report", help="where the runs train and stay; a re-run "
        "trains only what is missing (default: runs/report)"
    )  # fmt: skip
    where.add_argument(
        "--from-sweep", metavar="DIR", help="read a finished `aae-sweep aae_core/grids/report.toml --out DIR` "
        "(report-quick.toml with --quick) and train nothing"
    )  # fmt: skip
    p.add_argument("--checkpoints", metavar="DIR", help="also save the first seed's eight 2-D demo models here")
    p.add_argument("--mnist-dir", metavar="PATH", help="folder with the full MNIST IDX files, for its Parzen row")
    p.add_argument("--workers", type=int, default=2, help="runs trained and measured at once, one torch thread each")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), help="train on this device (default: aae-train's)")
    return p


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this report."""
    parts = ["aae-report", "--out", args.out] + (["--quick"] if args.quick else [])
    for flag, value in (
        ("--from-sweep", args.from_sweep),
        ("--checkpoints", args.checkpoints),
        ("--mnist-dir", args.mnist_dir),
        ("--device", args.device),
    ):
        if value:
            parts += [flag, value]
    return shlex.join(parts)


def report_grid(args: argparse.Namespace) -> tuple[Grid, list[str]]:
    """The report's runs: its grid, less Fashion-MNIST where it is not installed, plus full MNIST's likelihood
    runs with --mnist-dir; and a note for each dataset skipped."""
    grid, notes = load_grid(grid_path(args.quick)), []
    runs = grid.runs
    if not FASHION_DIR.is_dir():
        runs = [r for r in runs if r.settings.get("dataset") != "fashion"]
        notes.append(f"Fashion-MNIST skipped: {FASHION_DIR} not found (apt-get install dataset-fashion-mnist).")
    if args.mnist_dir:
        load_dataset(args.mnist_dir, seed=0)  # a bad folder fails before anything trains
        holdout = 300 if args.quick else MNIST_HOLDOUT
        runs += [
            _run(r.settings | {"dataset": args.mnist_dir, "holdout": holdout})
            for r in grid.runs
            if is_parzen(r.settings) and r.settings.get("dataset") == DEMO_DATASET
        ]
    else:
        notes.append("Full MNIST skipped: pass `--mnist-dir PATH` (a folder with its IDX files) to add its rows.")
    if args.device:
        runs = [_run(r.settings | {"device": args.device}) for r in runs]
    return replace(grid, runs=runs), notes


def _run(settings: dict) -> Run:
    return Run(run_id(settings), settings)


def _train(run: Run, out: Path) -> dict:
    torch.set_num_threads(1)  # runs share the cores: one thread each beats two runs fighting over two
    return finish_run(run, out)


def _measure(job: tuple) -> dict:
    return measure(*job)


def run(args: argparse.Namespace) -> int:
    from .checkpoints import path_for, save_checkpoint  # here: `aae-report --help` needs neither

    start = time.perf_counter()
    budget = QUICK if args.quick else FULL
    if not 1 <= args.workers <= 64:
        raise AAEError(f"--workers={args.workers}: must be between 1 and 64")
    grid, notes = report_grid(args)  # first: a bad --mnist-dir fails before anything is written
    out = check_output_dir(args.out, "--out")
    runs_dir = Path(args.from_sweep or args.runs).resolve()
    check_output_dir(str(runs_dir), "--from-sweep" if args.from_sweep else "--runs")
    if args.checkpoints:
        check_output_dir(args.checkpoints, "--checkpoints")
    check_runs(grid, runs_dir)  # every run's settings, as aae-train checks them, before anything trains
    todo = [r for r, row in zip(grid.runs, finished_rows(runs_dir, grid)) if row is None]
    if todo and args.from_sweep:
        raise AAEError(
            f"--from-sweep {args.from_sweep}: {len(todo)} of {len(grid.runs)} runs are not finished; run "
            f"`aae-sweep {grid_path(args.quick)} --out {args.from_sweep}` again to finish them"
        )
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(grid.runs)} runs: {len(grid.runs) - len(todo)} already done in {runs_dir}, {len(todo)} to train")
    # spawn, not fork: a forked child of a process that has used torch's thread pool can deadlock in it.
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for r, row in zip(todo, pool.map(_train, todo, [runs_dir] * len(todo))):
            print(f"trained {grid.describe(r)}" + (f": {row[ERROR_FIELD]}" if ERROR_FIELD in row else ""), flush=True)
        train_s = time.perf_counter() - start
        rows = finished_rows(runs_dir, grid)
        failed = [(r, row) for r, row in zip(grid.runs, rows) if row is not None and ERROR_FIELD in row]
        if failed:
            r, row = failed[0]
            raise AAEError(f"{len(failed)} runs ended with an error, e.g. {grid.describe(r)}: {row[ERROR_FIELD]}")
        seeds = sorted({r.settings["seed"] for r in grid.runs})
        measured = [r for r in grid.runs if not categorical.in_section(r.settings)]  # those aae-eval's rows serve
        jobs = [(r.id, r.settings, runs_dir / "runs", budget, seeds[0]) for r in measured]
        records = list(pool.map(_measure, jobs))
    demos: dict[str, list[dict]] = {name: [] for name in DEMO_RUNS}  # the tables' order
    parzen: list[dict] = []
    for r, rec in zip(measured, records):
        if is_parzen(r.settings):
            parzen.append(rec)
            print(f"parzen {rec['dataset']} {rec['model']} seed {rec['seed']}: {rec['mean']:.0f} ± {rec['se']:.0f}")
        else:
            demos[rec["name"]].append(rec)
            m = rec["metrics"]
            print(
                f"{rec['name']} seed {rec['seed']}: knn {m['knn_accuracy']:.3f}, "
                f"MMD^2 {m['prior_mmd_ratio']:.1f}x floor",
                flush=True,
            )
    first = {name: runs[0] for name, runs in demos.items()}  # the first seed's: its grid is seed-major
    models: dict[str, AutoEncoderBase] = {}
    for name, rec in first.items():
        models[name] = build_model(rec["config"].model)
        models[name].load_state_dict(rec["state"])
    label_fraction = first["aae-mixture-labels"]["config"].train.label_fraction
    if args.checkpoints:
        for name in SHIPPED:
            rec = first[name]
            path = save_checkpoint(
                path_for(name, Path(args.checkpoints)),
                models[name],
                rec["config"],
                step=rec["steps"],
                metrics=rec["metrics"],
                history=rec["history"],
                half=True,
                extra={
                    "title": demo_title(rec, label_fraction),
                    "train_epochs": rec["config"].train.epochs,
                    "train_seconds": rec["seconds"],
                    "torch": torch.__version__,
                    "made_by": command_line(args),
                },
            )
            print(f"saved {path}")
    pca = summary([pca_knn(load_dataset(DEMO_DATASET, seed=s)) for s in seeds])
    doc = Inputs(
        args=args,
        budget=budget,
        demo_epochs=first["aae-gaussian"]["config"].train.epochs,
        label_fraction=label_fraction,
        parzen_dim=PARZEN_DIM,
        parzen_std=PARZEN_STD,
        seeds=seeds,
        demos=demos,
        models=models,
        parzen=parzen,
        notes=notes,
        baselines={"pca_knn": pca},
        command=command_line(args),
        timings={
            "train the runs not yet finished": train_s,
            "measure every run": time.perf_counter() - start - train_s,
        },
    )
    t = time.perf_counter()
    report_figures.draw(out, doc)
    sections = [row for r, row in zip(grid.runs, rows) if row is not None and categorical.in_section(r.settings)]
    if sections:
        text = categorical.section(sections, out, command_line(args)) + "\n"
        write_atomic(out / "report-categorical.md", text.encode())
    write(out, replace(doc, timings={**doc.timings, "figures": time.perf_counter() - t}), start)
    return 0
