"""`aae-report`: the paper's Fig. 2, Fig. 4, Fig. 5 and Table 1, reproduced over several seeds.

One command trains every model with the project's one recipe (aae_core.config's defaults) for a fixed
number of epochs (never seconds, so the results do not depend on the machine's speed), for each seed,
evaluates it with aae_core.metrics (prior-match numbers beside their floors), and hands the results to
aae_core.report_doc, which draws the figures and writes `report.md`. Runs go to a pool of worker
processes, one torch thread each. With `--checkpoints DIR` the first seed's 2-D models are also saved as
the explorer's demos; their weights are rounded to float16 *before* they are evaluated, so the report,
the stored metadata and a re-evaluation of the shipped file all agree.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import shlex
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from . import report_figures
from .config import AAEError, TrainConfig, build_run_config
from .data import FASHION_DIR, Dataset, load_dataset
from .latent import decode
from .metrics import evaluate, knn_accuracy, mode_mass, part_of, parzen_log_likelihood, select_parzen_sigma
from .models import AutoEncoderBase, build_model
from .report_doc import Inputs, demo_title, write
from .settings import CONDITIONED
from .untrusted import check_output_dir

LABEL_FRACTION = 0.2  # the paper's Fig. 4a: 10K of 50K training images labelled
DEMO_DATASET = "mnist5k"
# The 2-D models: name -> (model, prior, label-conditioned). The first eight are the explorer's demos;
# the plain autoencoder is the baseline with no regularizer (its "prior" only scores its codes).
DEMO_RUNS = {
    "aae-gaussian": ("aae", "gaussian", False),
    "vae-gaussian": ("vae", "gaussian", False),
    "aae-mixture": ("aae", "mixture", False),
    "vae-mixture": ("vae", "mixture", False),
    "aae-swissroll": ("aae", "swissroll", False),
    "vae-swissroll": ("vae", "swissroll", False),
    "aae-mixture-labels": ("aae", "mixture", True),
    "aae-swissroll-labels": ("aae", "swissroll", True),
    "ae-gaussian": ("ae", "gaussian", False),
}
SHIPPED = tuple(name for name in DEMO_RUNS if not name.startswith("ae-"))
PARZEN_DIM, PARZEN_STD = 8, 5.0  # Appendix A's likelihood model: an 8-D Gaussian prior of std 5


@dataclass(frozen=True)
class ParzenSpec:
    """One dataset's row of Table 1: which data, the hidden widths, and the training budget in epochs."""

    label: str
    source: str
    size: str
    epochs: float


@dataclass(frozen=True)
class Budget:
    """How much work each part gets, in epochs and samples (never seconds)."""

    seeds: int
    demo_epochs: float
    mnist5k_parzen: tuple[str, float]  # (size preset, epochs)
    fashion_parzen: tuple[str, float]
    parzen_samples: int  # decoded prior samples the Parzen window sits on (the paper: 10K)
    max_validation: int  # held-out training images sigma is chosen on
    max_test: int | None  # test images scored (None: the whole test split)


FULL = Budget(
    seeds=3,
    demo_epochs=TrainConfig.epochs,
    mnist5k_parzen=("paper", 100),
    fashion_parzen=("explorer", 50),
    parzen_samples=10_000,
    max_validation=2000,
    max_test=None,
)
QUICK = Budget(
    seeds=2,
    demo_epochs=2,
    mnist5k_parzen=("explorer", 2),
    fashion_parzen=("explorer", 0.05),
    parzen_samples=1000,
    max_validation=300,
    max_test=500,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aae-report",
        description="Reproduce the paper's Fig. 2, 4, 5 and Table 1 "
        "analogues over several seeds and write a markdown report with its figures.",
    )
    p.add_argument("--out", default="docs", help="folder for report.md and its PNG figures (default: docs)")
    p.add_argument("--quick", action="store_true", help="tiny budgets: every section in a few minutes (for CI)")
    p.add_argument("--checkpoints", metavar="DIR", help="also save the first seed's eight 2-D demo models here")
    p.add_argument("--mnist-dir", metavar="PATH", help="folder with the full MNIST IDX files, for its Parzen row")
    p.add_argument("--seed", type=int, default=0, help="the first seed; the others follow it")
    p.add_argument("--workers", type=int, default=2, help="runs trained at once, one torch thread each")
    p.add_argument("--device", default="cpu", help="cpu (default, reproducible), cuda or auto")
    return p


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this report."""
    parts = ["aae-report", "--out", args.out] + (["--quick"] if args.quick else [])
    for flag, value in (("--checkpoints", args.checkpoints), ("--mnist-dir", args.mnist_dir)):
        if value:
            parts += [flag, value]
    return shlex.join(parts + ["--seed", str(args.seed), "--device", args.device])


# ---- the report's own measures ---------------------------------------------------------------------------


def labels_of(data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The training and test labels: every dataset the report uses has them."""
    if data.y_train is None or data.y_test is None:
        raise AAEError(f"dataset {data.name!r}: the report needs class labels, and it has none")
    return data.y_train, data.y_test


def pca_knn(data: Dataset) -> float:
    """5-NN accuracy of the held-out images projected to 2-D by a PCA of the training images: the linear baseline."""
    from sklearn.decomposition import PCA

    y_train, y_test = labels_of(data)
    pca = PCA(n_components=2, random_state=0).fit(data.x_train.numpy())
    return knn_accuracy(
        pca.transform(data.x_train.numpy()),
        y_train.numpy(),
        pca.transform(data.x_test.numpy()),
        y_test.numpy(),
    )


def round_to_half(model: AutoEncoderBase) -> None:
    """Round every weight to float16 and back, in place: the model then is exactly the shipped file, as loaded."""
    model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})


# ---- one run each, in a worker process -------------------------------------------------------------------


def _trainer(config, data: Dataset, device: str):
    from .training import Trainer  # here: each worker builds its own

    torch.set_num_threads(1)  # runs share the cores: one thread each beats two runs fighting over two
    return Trainer(config, data, device=device, publish_every_s=math.inf)


def demo_run(name: str, seed: int, epochs: float, device: str) -> dict:
    """Train, round to float16 and evaluate one 2-D model: its metrics, codes, weights and history."""
    from .history import short_history

    kind, prior, conditioned = DEMO_RUNS[name]
    data = load_dataset(DEMO_DATASET, seed=0)  # one split for every seed: seeds vary the model, not the test set
    config = build_run_config(
        model=kind,
        prior=prior,
        dataset=DEMO_DATASET,
        input_dim=data.input_dim,
        n_classes=data.n_classes,
        label_conditioned=conditioned,
        label_fraction=LABEL_FRACTION,
        seed=seed,
        epochs=epochs,
        **(CONDITIONED[prior] if conditioned else {}),
    )
    trainer = _trainer(config, data, device)
    start = time.perf_counter()
    trainer.run(epochs=epochs)
    seconds = time.perf_counter() - start
    round_to_half(trainer.model)
    metrics = evaluate(trainer.model, trainer.prior, trainer.data, seed=seed)
    codes = trainer.encode(trainer.data.x_test)
    labels = labels_of(data)[1].numpy()
    ref = trainer.prior.sample(100_000, generator=torch.Generator().manual_seed(seed)).numpy()
    extra = {
        "mode_mass": mode_mass(codes, trainer.prior),
        "prior_mode_mass": mode_mass(ref, trainer.prior),
        "own_part": float((part_of(codes, trainer.prior) == labels).mean()) if conditioned else None,
        "code_std": float(codes.std(0).mean()),
    }
    return {
        "name": name,
        "kind": kind,
        "prior": prior,
        "conditioned": conditioned,
        "n_train": data.x_train.shape[0],
        "seed": seed,
        "config": config,
        "metrics": metrics,
        "extra": extra,
        "codes": codes,
        "labels": labels,
        "seconds": seconds,
        "steps": trainer.step_count,
        "state": {k: v.cpu() for k, v in trainer.model.state_dict().items()},
        "history": short_history(trainer.snapshot().history),
    }


def parzen_run(
    spec: ParzenSpec, kind: str, seed: int, budget: Budget, device: str, mnist_dir: str | None, fig5: bool
) -> dict:
    """Table 1's protocol for one 8-D model: train on the training split less a validation part, decode samples
    of the prior, choose sigma on the validation images, report the test log-likelihood and its standard error,
    and how well the model's codes match its prior (a Parzen score means little if they do not). With `fig5`,
    also Fig. 5's samples beside their nearest training images."""
    source = spec.source
    if source == "mnist-dir":
        if mnist_dir is None:  # parzen_specs adds this row only with --mnist-dir
            raise AAEError(f"{spec.label}: needs --mnist-dir")
        source = mnist_dir
    data = load_dataset(source, seed=0)
    n_val = min(budget.max_validation, data.x_train.shape[0] // 10)
    train = Dataset(
        data.name,
        data.x_train[:-n_val],
        data.y_train[:-n_val] if data.y_train is not None else None,
        data.x_test,
        data.y_test,
        data.image_shape,
        data.n_classes,
    )
    validation = data.x_train[-n_val:].numpy()
    test = data.x_test[: budget.max_test].numpy()
    config = build_run_config(
        model=kind,
        prior="gaussian",
        dataset=data.name,
        latent_dim=PARZEN_DIM,
        size=spec.size,
        input_dim=data.input_dim,
        n_classes=data.n_classes,
        seed=seed,
        epochs=spec.epochs,
        prior_std=PARZEN_STD,
    )
    trainer = _trainer(config, train, device)
    start = time.perf_counter()
    trainer.run(epochs=spec.epochs)
    seconds = time.perf_counter() - start
    z = trainer.prior.sample(budget.parzen_samples, generator=torch.Generator().manual_seed(seed)).numpy()
    samples = decode(trainer.model, z, (data.input_dim,))
    sigma = select_parzen_sigma(samples, validation)
    ll = parzen_log_likelihood(samples, test, sigma)
    metrics = evaluate(trainer.model, trainer.prior, trainer.data, seed=seed)
    codes = trainer.encode(trainer.data.x_test)
    row = {
        "dataset": spec.label,
        "model": kind.upper(),
        "seed": seed,
        "hidden": "-".join(map(str, config.model.hidden)),
        "n_train": train.x_train.shape[0],
        "epochs": spec.epochs,
        "n_val": n_val,
        "n_test": len(test),
        "sigma": sigma,
        "mean": float(ll.mean()),
        "se": float(ll.std(ddof=1) / math.sqrt(len(ll))),
        "prior_mmd_ratio": metrics["prior_mmd_ratio"],
        "prior_coverage": metrics["prior_coverage"],
        "code_std_ratio": float(codes.std(0).mean() / PARZEN_STD),
        "seconds": seconds,
    }
    if fig5:  # are the samples new digits, or copies of training images?
        picks = samples[:10]
        nearest = torch.cdist(torch.as_tensor(picks), train.x_train).argmin(1)
        row["fig5"] = np.stack([picks, train.x_train[nearest].numpy()]).reshape(2, 10, *data.image_shape)
    return row


def _call(job: tuple) -> dict:
    fn, args = job
    return fn(*args)


# ---- the whole report ------------------------------------------------------------------------------------


def parzen_specs(args: argparse.Namespace, budget: Budget) -> tuple[list[ParzenSpec], list[str]]:
    """The datasets of the Parzen table, checked up front so a bad --mnist-dir fails before any training,
    and a note for each one that is skipped."""
    specs, notes = [ParzenSpec("mnist5k", "mnist5k", *budget.mnist5k_parzen)], []
    if FASHION_DIR.is_dir():
        specs.append(ParzenSpec("Fashion-MNIST", "fashion", *budget.fashion_parzen))
    else:
        notes.append(f"Fashion-MNIST skipped: {FASHION_DIR} not found (apt-get install dataset-fashion-mnist).")
    if args.mnist_dir:
        load_dataset(args.mnist_dir, seed=0)
        specs.append(ParzenSpec("MNIST (full)", "mnist-dir", "paper", budget.mnist5k_parzen[1]))
    else:
        notes.append("Full MNIST skipped: pass `--mnist-dir PATH` (a folder with its IDX files) to add its rows.")
    return specs, notes


def run(args: argparse.Namespace) -> int:
    from .checkpoints import path_for, save_checkpoint  # here: `aae-report --help` needs neither

    start = time.perf_counter()
    budget = QUICK if args.quick else FULL
    if not 1 <= args.workers <= 64:
        raise AAEError(f"--workers={args.workers}: must be between 1 and 64")
    specs, notes = parzen_specs(args, budget)  # first: a bad --mnist-dir fails before anything is written
    out = check_output_dir(args.out, "--out")
    if args.checkpoints:
        check_output_dir(args.checkpoints, "--checkpoints")
    out.mkdir(parents=True, exist_ok=True)
    seeds = [args.seed + i for i in range(budget.seeds)]
    jobs: list[tuple[Callable[..., dict], tuple]] = [
        (demo_run, (name, s, budget.demo_epochs, args.device)) for s in seeds for name in DEMO_RUNS
    ]
    fig5 = (DEMO_DATASET, "aae", seeds[0])  # the mnist5k AAE of the first seed, like every other figure
    jobs += [
        (parzen_run, (spec, kind, s, budget, args.device, args.mnist_dir, (spec.source, kind, s) == fig5))
        for spec in specs
        for kind in ("aae", "vae")
        for s in seeds
    ]
    demos: dict[str, list[dict]] = {name: [] for name in DEMO_RUNS}
    parzen: list[dict] = []
    # spawn, not fork: a forked child of a process that has used torch's thread pool can deadlock in it.
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for (fn, _), result in zip(jobs, pool.map(_call, jobs)):
            if fn is demo_run:
                demos[result["name"]].append(result)
                print(
                    f"{result['name']} seed {result['seed']}: {result['seconds']:.0f} s, knn "
                    f"{result['metrics']['knn_accuracy']:.3f}, MMD^2 {result['metrics']['prior_mmd_ratio']:.1f}x floor",
                    flush=True,
                )
            else:
                parzen.append(result)
                print(
                    f"parzen {result['dataset']} {result['model']} seed {result['seed']}: {result['mean']:.0f} "
                    f"± {result['se']:.0f} ({result['seconds']:.0f} s)",
                    flush=True,
                )
    train_s = time.perf_counter() - start
    first = {name: runs[0] for name, runs in demos.items()}
    models: dict[str, AutoEncoderBase] = {}
    for name, r in first.items():
        models[name] = build_model(r["config"].model)
        models[name].load_state_dict(r["state"])
    if args.checkpoints:
        for name in SHIPPED:
            r = first[name]
            path = save_checkpoint(
                path_for(name, Path(args.checkpoints)),
                models[name],
                r["config"],
                step=r["steps"],
                metrics=r["metrics"],
                history=r["history"],
                half=True,
                extra={
                    "title": demo_title(r, LABEL_FRACTION),
                    "train_epochs": budget.demo_epochs,
                    "train_seconds": round(r["seconds"], 2),
                    "torch": torch.__version__,
                    "made_by": command_line(args),
                },
            )
            print(f"saved {path}")
    baselines = {"pca_knn": pca_knn(load_dataset(DEMO_DATASET, seed=0))}
    doc = Inputs(
        args=args,
        budget=budget,
        label_fraction=LABEL_FRACTION,
        parzen_dim=PARZEN_DIM,
        parzen_std=PARZEN_STD,
        seeds=seeds,
        demos=demos,
        models=models,
        parzen=parzen,
        notes=notes,
        baselines=baselines,
        command=command_line(args),
        timings={"train and evaluate every run": train_s},
    )
    t = time.perf_counter()
    report_figures.draw(out, doc)
    write(out, replace(doc, timings={**doc.timings, "figures": time.perf_counter() - t}), start)
    return 0
