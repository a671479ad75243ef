"""Command line: `aae-train`, `aae-eval`, `aae-bench`, `aae-report` (also `python -m aae_core <command>`).

Bad input exits with status 2 and one line on stderr naming the problem; nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .config import SIZE_PRESETS, AAEError, PRIOR_NAMES, MODEL_KINDS, TrainConfig, build_run_config
from .untrusted import check_output_file

EXIT_BAD_INPUT = 2


def add_prior_arguments(p: argparse.ArgumentParser) -> None:
    """Prior flags, shared by every command that builds a prior."""
    p.add_argument("--prior", choices=PRIOR_NAMES, default="gaussian")
    p.add_argument("--latent-dim", type=int, default=2)
    p.add_argument("--prior-std", type=float, default=1.0, help="gaussian: sigma")
    p.add_argument("--n-components", type=int, default=10, help="mixture: K")
    p.add_argument("--radius", type=float, default=1.4, help="mixture: distance of the petals from the origin")
    p.add_argument("--radial-std", type=float, default=0.5)
    p.add_argument("--tangential-std", type=float, default=0.1)


def prior_params(args: argparse.Namespace) -> dict:
    return {"std": args.prior_std, "n_components": args.n_components, "radius": args.radius,
            "radial_std": args.radial_std, "tangential_std": args.tangential_std, "n_segments": args.n_components}


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aae-train", description="Train an AAE or a VAE and save a checkpoint.")
    p.add_argument("--model", choices=MODEL_KINDS, default="aae")
    p.add_argument("--dataset", default="mnist5k", help="mnist5k, digits, fashion, a folder of IDX files, or an .npz")
    add_prior_arguments(p)
    p.add_argument("--size", choices=tuple(SIZE_PRESETS), default="explorer", help="hidden widths preset")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, help="train for this many seconds of wall time")
    budget.add_argument("--epochs", type=float, help="train for this many epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr-recon", type=float, default=TrainConfig.lr_recon)
    p.add_argument("--lr-disc", type=float, default=TrainConfig.lr_disc)
    p.add_argument("--lr-gen", type=float, default=TrainConfig.lr_gen)
    p.add_argument("--disc-noise", type=float, default=0.0, help="std of noise on the discriminator's inputs")
    p.add_argument("--label-conditioned", action="store_true", help="discriminator also sees labels (Fig. 4)")
    p.add_argument("--label-fraction", type=float, default=1.0, help="fraction of training labels it sees")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", required=True, help="checkpoint path, e.g. checkpoints/aae-mixture")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def train(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from .checkpoints import resolve, save_checkpoint, validate_name
    from .data import load_dataset
    from .metrics import evaluate
    from .training import Trainer

    check_budget(args.seconds, args.epochs)
    out = resolve(args.out)
    validate_name(out.name[: -len(".safetensors")])   # refuse a bad name, or a bad place, before spending time training
    check_output_file(out)
    data = load_dataset(args.dataset, seed=args.seed)
    config = build_run_config(
        model=args.model, prior=args.prior, dataset=args.dataset, latent_dim=args.latent_dim, size=args.size,
        input_dim=data.input_dim, n_classes=data.n_classes, label_conditioned=args.label_conditioned,
        label_fraction=args.label_fraction, prior_params=prior_params(args), batch_size=args.batch_size,
        lr_recon=args.lr_recon, lr_disc=args.lr_disc, lr_gen=args.lr_gen, disc_noise=args.disc_noise, seed=args.seed)
    trainer = Trainer(config, data, device=args.device, publish_every_s=math.inf)
    epochs = 10.0 if args.seconds is None and args.epochs is None else args.epochs
    steps_per_epoch = data.x_train.shape[0] / config.train.batch_size
    total = args.seconds if args.seconds is not None else math.ceil(epochs * steps_per_epoch)
    unit = "s" if args.seconds is not None else "step"
    with tqdm(total=total, unit=unit, disable=args.quiet, file=sys.stderr,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} " + unit + " [{elapsed}<{remaining}{postfix}]") as bar:
        start = time.perf_counter()

        def progress(t: Trainer) -> None:
            if t.step_count % 20:
                return
            bar.n = time.perf_counter() - start if unit == "s" else t.step_count
            bar.set_postfix_str(f"recon {t.last_losses['recon']:.1f}", refresh=False)
            bar.refresh()

        trainer.run(epochs=epochs, seconds=args.seconds, on_step=progress)
        bar.n = total
    elapsed = time.perf_counter() - start
    metrics = evaluate(trainer.model, trainer.prior, trainer.data, seed=args.seed)
    path = save_checkpoint(out, trainer.model, config, step=trainer.step_count, metrics=metrics,
                           history=short_history(trainer.snapshot().history),
                           extra={"train_seconds": round(elapsed, 2), "torch": torch.__version__,
                                  "prior_meta": trainer.prior.metadata()})
    print(f"trained {args.model} on {data.name} with a {args.prior} prior: {trainer.step_count} steps "
          f"({trainer.snapshot().epoch:.1f} epochs) in {elapsed:.1f} s on {trainer.device}")
    print(format_metrics(metrics))
    print(f"saved {path}")
    return 0


MAX_SECONDS = 7 * 24 * 3600.0   # a week of wall time
MAX_EPOCHS = 1_000_000.0


def check_budget(seconds: float | None, epochs: float | None) -> None:
    """A run length must be finite, positive and bounded: zero or less trained nothing and still replaced the
    checkpoint, NaN or inf ended in a traceback, 1e300 epochs never ended."""
    for flag, value, high in (("--seconds", seconds, MAX_SECONDS), ("--epochs", epochs, MAX_EPOCHS)):
        if value is not None and not (math.isfinite(value) and 0 < value <= high):
            raise AAEError(f"{flag}={value:g}: must be a number > 0 and at most {high:g}")


def short_history(history: dict, points: int = 200) -> dict:
    """At most `points` evenly spaced entries of each loss curve, with NaN as null, for metadata."""
    n = len(history.get("step", []))
    idx = sorted({round(i * (n - 1) / max(points - 1, 1)) for i in range(min(n, points))})
    return {k: [None if not math.isfinite(float(v[i])) else round(float(v[i]), 5) for i in idx] for k, v in history.items()}


def format_metrics(metrics: dict) -> str:
    """An aligned two-column table."""
    width = max(map(len, metrics))
    return "\n".join(f"  {k:<{width}}  {'n/a' if v is None else f'{v:.4f}' if isinstance(v, float) else v}"
                     for k, v in metrics.items())


def _eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aae-eval", description="Evaluate a checkpoint on its dataset's test split.")
    p.add_argument("checkpoint", help="path to a checkpoint (the .safetensors suffix is optional)")
    p.add_argument("--dataset", help="evaluate on this dataset instead of the one it was trained on")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--device", default="auto")
    return p


def evaluate_checkpoint(path: str | Path, dataset: str | None = None, device: str = "auto") -> dict:
    """Load a checkpoint, rebuild its dataset split and prior, and compute the metrics."""
    from .checkpoints import load_checkpoint
    from .data import load_dataset
    from .metrics import evaluate
    from .priors import make_prior
    from .training import resolve_device

    ckpt = load_checkpoint(path, device=resolve_device(device))
    cfg = ckpt.config
    data = load_dataset(dataset or cfg.dataset, seed=cfg.train.seed)
    if data.input_dim != cfg.model.input_dim:
        raise AAEError(f"dataset {data.name!r}: {data.input_dim} pixels per image, the model expects {cfg.model.input_dim}")
    metrics = evaluate(ckpt.model, make_prior(cfg.prior), data, seed=cfg.train.seed)
    return {**metrics, "checkpoint": str(ckpt.path), "model": cfg.model.kind, "prior": cfg.prior.name,
            "dataset": data.name, "step": ckpt.meta.get("step")}


def evaluate_command(args: argparse.Namespace) -> int:
    result = evaluate_checkpoint(args.checkpoint, args.dataset, args.device)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['checkpoint']}: {result['model']} / {result['prior']} prior / {result['dataset']} / step {result['step']}")
        print(format_metrics({k: result[k] for k in result if k not in ("checkpoint", "model", "prior", "dataset", "step")}))
    return 0


def _run(parser: argparse.ArgumentParser, command: Callable[[argparse.Namespace], int], argv: list[str] | None) -> int:
    """Parse, run, and turn user errors into one line on stderr with exit status 2."""
    args = parser.parse_args(argv)
    try:
        return command(args)
    except AAEError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:   # a destination that went bad during the run: one line naming the path
        where = f"{e.filename}: " if e.filename else ""
        print(f"{parser.prog}: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


def train_main(argv: list[str] | None = None) -> int:
    return _run(_train_parser(), train, argv)


def eval_main(argv: list[str] | None = None) -> int:
    return _run(_eval_parser(), evaluate_command, argv)


def bench_main(argv: list[str] | None = None) -> int:
    from . import bench
    return _run(bench.parser(), bench.run, argv)


def report_main(argv: list[str] | None = None) -> int:
    from . import report
    return _run(report.parser(), report.run, argv)


COMMANDS = {"train": train_main, "eval": eval_main, "bench": bench_main, "report": report_main}


def main(argv: list[str] | None = None) -> int:
    """`python -m aae_core <command> ...`"""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m aae_core {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return EXIT_BAD_INPUT
    return COMMANDS[argv[0]](argv[1:])
