"""One run as `aae-train` trains it and `aae-eval` evaluates it, so the CLI and `aae-sweep` share one code path.

`train_parser()` defines every `aae-train` setting; `TrainingRun` checks them, trains and saves a checkpoint;
`evaluate_checkpoint` computes what `aae-eval --json` prints. The CLI stays a thin leaf over this module.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .categorical_metrics import categorical_metrics
from .checkpoints import load_checkpoint, resolve, save_checkpoint, validate_name
from .config import AAEError, RunConfig, build_run_config
from .data import Dataset, load_dataset
from .history import short_history
from .metrics import evaluate
from .priors import make_prior
from .settings import MAX_EPOCHS, SETTINGS, add_arguments
from .training import Trainer, resolve_device
from .untrusted import check_output_file

MAX_SECONDS = 7 * 24 * 3600.0  # a week of wall time


def check_budget(seconds: float | None, epochs: float | None) -> None:
    """A run length must be finite, positive and bounded: zero or less trained nothing and still replaced the
    checkpoint, NaN or inf ended in a traceback, 1e300 epochs never ended."""
    for flag, value, high in (("--seconds", seconds, MAX_SECONDS), ("--epochs", epochs, MAX_EPOCHS)):
        if value is not None and not (math.isfinite(value) and 0 < value <= high):
            raise AAEError(f"{flag}={value:g}: must be a number > 0 and at most {high:g}")


# Keys of an `aae-eval` result that describe the checkpoint; every other key is a metric.
CHECKPOINT_FIELDS = ("checkpoint", "model", "prior", "dataset", "step")


# aae-train's settings, in the order --help lists them; every one is a row of aae_core.settings.
TRAIN_SETTINGS = tuple(s.name for s in SETTINGS if s.cli and s.name != "epochs")


def train_parser() -> argparse.ArgumentParser:
    """Every `aae-train` flag: the CLI parses with it, and `aae-sweep` derives a grid's settings from it."""
    p = argparse.ArgumentParser(
        prog="aae-train",
        description="Train an AAE, a VAE, a plain autoencoder (ae) or one of the paper's categorical AAEs "
        "and save a checkpoint. The defaults are the project's one recipe.",
    )
    add_arguments(p, TRAIN_SETTINGS)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, help="train for this many seconds of wall time")
    # None: the recipe's epochs; the flag is told apart from its default so that --seconds may replace it.
    add_arguments(budget, ["epochs"], epochs={"default": None})
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", required=True, help="checkpoint path, e.g. checkpoints/aae-mixture")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run_config(args: argparse.Namespace, data: Dataset) -> RunConfig:
    """The validated RunConfig that parsed `aae-train` flags describe, for this dataset."""
    settings = {name: getattr(args, name) for name in TRAIN_SETTINGS}
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    return build_run_config(input_dim=data.input_dim, n_classes=data.n_classes, **settings)


class TrainingRun:
    """One `aae-train` run: every setting is checked and the Trainer built on construction, before any training."""

    def __init__(self, args: argparse.Namespace, data: Dataset | None = None):
        """`data`, when given, is `args.dataset` loaded with `args.seed` (a sweep checks many runs on one load)."""
        self.args = args
        check_budget(args.seconds, args.epochs)
        self.out = resolve(args.out)
        validate_name(self.out.name[: -len(".safetensors")])  # refuse a bad name, or a bad place, before training
        check_output_file(self.out)
        self.data = data if data is not None else load_dataset(args.dataset, seed=args.seed)
        self.config = run_config(args, self.data)
        self.trainer = Trainer(self.config, self.data, device=args.device, publish_every_s=math.inf)
        self.epochs = self.config.train.epochs if args.seconds is None else None
        steps_per_epoch = self.data.x_train.shape[0] / self.config.train.batch_size
        self.unit = "s" if args.seconds is not None else "step"
        self.total = args.seconds if args.seconds is not None else math.ceil(self.config.train.epochs * steps_per_epoch)
        self.seconds = 0.0

    def train(self, on_step: Callable[[Trainer], None] | None = None) -> None:
        """Train for the budget the flags give (--seconds or --epochs), timing it."""
        start = time.perf_counter()
        self.trainer.run(epochs=self.epochs, seconds=self.args.seconds, on_step=on_step)
        self.seconds = time.perf_counter() - start

    def save(self) -> tuple[Path, dict]:
        """Evaluate the trained model and save it with its metrics; returns the checkpoint's path and the metrics."""
        t = self.trainer
        metrics = evaluate(t.model, t.prior, t.data, seed=self.args.seed)
        metrics |= categorical_metrics(t.model, t.prior, t.data, seed=self.args.seed)
        path = save_checkpoint(
            self.out,
            t.model,
            self.config,
            step=t.step_count,
            metrics=metrics,
            history=short_history(t.snapshot().history),
            extra={
                "train_seconds": round(self.seconds, 2),
                "torch": torch.__version__,
            },
        )
        return path, metrics


def evaluate_checkpoint(path: str | Path, dataset: str | None = None, device: str = "auto") -> dict:
    """Load a checkpoint, rebuild its dataset split and prior, and compute the metrics."""
    ckpt = load_checkpoint(path, device=resolve_device(device))
    cfg = ckpt.config
    data = load_dataset(dataset or cfg.dataset, seed=cfg.train.seed)
    if data.input_dim != cfg.model.input_dim:
        raise AAEError(
            f"dataset {data.name!r}: {data.input_dim} pixels per image, the model expects {cfg.model.input_dim}"
        )
    prior = make_prior(cfg.prior)
    metrics = evaluate(ckpt.model, prior, data, seed=cfg.train.seed)
    metrics |= categorical_metrics(ckpt.model, prior, data, seed=cfg.train.seed)
    return {
        **metrics,
        "checkpoint": str(ckpt.path),
        "model": cfg.model.kind,
        "prior": cfg.prior.name,
        "dataset": data.name,
        "step": ckpt.meta.get("step"),
    }
