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

from .checkpoints import load_checkpoint, resolve, save_checkpoint, validate_name
from .config import (
    MAX_EPOCHS,
    MODEL_KINDS,
    PRIOR_NAMES,
    SIZE_PRESETS,
    AAEError,
    PriorConfig,
    RunConfig,
    TrainConfig,
    build_run_config,
)
from .data import Dataset, load_dataset
from .history import short_history
from .metrics import evaluate
from .priors import make_prior
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


def add_prior_arguments(p: argparse.ArgumentParser) -> None:
    """Prior flags, shared by every command that builds a prior."""
    p.add_argument("--prior", choices=PRIOR_NAMES, default="gaussian")
    p.add_argument("--latent-dim", type=int, default=2)
    p.add_argument("--prior-std", type=float, default=PriorConfig.std, help="gaussian: sigma")
    p.add_argument(
        "--n-components",
        type=int,
        default=PriorConfig.n_components,
        help="mixture: K petals; swiss roll: K label segments",
    )
    p.add_argument(
        "--radius", type=float, default=PriorConfig.radius, help="mixture: distance of the petals from the origin"
    )
    p.add_argument("--radial-std", type=float, default=PriorConfig.radial_std)
    p.add_argument("--tangential-std", type=float, default=PriorConfig.tangential_std)
    p.add_argument("--roll-radius", type=float, default=PriorConfig.roll_radius, help="swiss roll: its outer radius")


def prior_params(args: argparse.Namespace) -> dict:
    return {
        "std": args.prior_std,
        "n_components": args.n_components,
        "radius": args.radius,
        "radial_std": args.radial_std,
        "tangential_std": args.tangential_std,
        "n_segments": args.n_components,
        "roll_radius": args.roll_radius,
    }


def train_parser() -> argparse.ArgumentParser:
    """Every `aae-train` flag: the CLI parses with it, and `aae-sweep` derives a grid's settings from it."""
    p = argparse.ArgumentParser(
        prog="aae-train",
        description="Train an AAE, a VAE or a plain autoencoder (ae) "
        "and save a checkpoint. The defaults are the project's one recipe.",
    )
    p.add_argument("--model", choices=MODEL_KINDS, default="aae")
    p.add_argument("--dataset", default="mnist5k", help="mnist5k, digits, fashion, a folder of IDX files, or an .npz")
    add_prior_arguments(p)
    p.add_argument("--size", choices=tuple(SIZE_PRESETS), default="explorer", help="hidden widths preset")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, help="train for this many seconds of wall time")
    budget.add_argument(
        "--epochs",
        type=float,
        help=f"train for this many epochs (default {TrainConfig.epochs:g}); the learning-rate schedule spans them",
    )
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr-recon", type=float, default=TrainConfig.lr_recon)
    p.add_argument("--lr-disc", type=float, default=TrainConfig.lr_disc)
    p.add_argument("--lr-gen", type=float, default=TrainConfig.lr_gen)
    p.add_argument(
        "--disc-noise", type=float, default=TrainConfig.disc_noise, help="std of noise on the discriminator's inputs"
    )
    p.add_argument(
        "--cool-fraction",
        type=float,
        default=TrainConfig.cool_fraction,
        help="the last fraction of the epochs trains at every learning rate x --cool-factor (0: none)",
    )
    p.add_argument("--cool-factor", type=float, default=TrainConfig.cool_factor)
    p.add_argument("--label-conditioned", action="store_true", help="discriminator also sees labels (Fig. 4)")
    p.add_argument("--label-fraction", type=float, default=1.0, help="fraction of training labels it sees")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", required=True, help="checkpoint path, e.g. checkpoints/aae-mixture")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run_config(args: argparse.Namespace, data: Dataset) -> RunConfig:
    """The validated RunConfig that parsed `aae-train` flags describe, for this dataset."""
    return build_run_config(
        model=args.model,
        prior=args.prior,
        dataset=args.dataset,
        latent_dim=args.latent_dim,
        size=args.size,
        input_dim=data.input_dim,
        n_classes=data.n_classes,
        label_conditioned=args.label_conditioned,
        label_fraction=args.label_fraction,
        prior_params=prior_params(args),
        batch_size=args.batch_size,
        lr_recon=args.lr_recon,
        lr_disc=args.lr_disc,
        lr_gen=args.lr_gen,
        disc_noise=args.disc_noise,
        seed=args.seed,
        epochs=TrainConfig.epochs if args.epochs is None else args.epochs,
        cool_fraction=args.cool_fraction,
        cool_factor=args.cool_factor,
    )


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
        self.total = args.seconds if args.seconds is not None else math.ceil(self.epochs * steps_per_epoch)
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
                "prior_meta": t.prior.metadata(),
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
    metrics = evaluate(ckpt.model, make_prior(cfg.prior), data, seed=cfg.train.seed)
    return {
        **metrics,
        "checkpoint": str(ckpt.path),
        "model": cfg.model.kind,
        "prior": cfg.prior.name,
        "dataset": data.name,
        "step": ckpt.meta.get("step"),
    }
