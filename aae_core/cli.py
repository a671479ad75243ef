"""Command line: `aae-train`, `aae-eval`, `aae-bench`, `aae-report`, `aae-sweep` (also `python -m aae_core <command>`).

Bad input exits with status 2 and one line on stderr naming the problem; nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from .config import AAEError

EXIT_BAD_INPUT = 2


def train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .runs import TrainingRun
    from .training import Trainer

    run = TrainingRun(args)
    unit, total = run.unit, run.total
    with tqdm(
        total=total,
        unit=unit,
        disable=args.quiet,
        file=sys.stderr,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} " + unit + " [{elapsed}<{remaining}{postfix}]",
    ) as bar:
        start = time.perf_counter()

        def progress(t: Trainer) -> None:
            if t.step_count % 20:
                return
            bar.n = time.perf_counter() - start if unit == "s" else t.step_count
            bar.set_postfix_str(f"recon {t.last_losses['recon']:.1f}", refresh=False)
            bar.refresh()

        run.train(on_step=progress)
        bar.n = total
    path, metrics = run.save()
    trainer = run.trainer
    print(
        f"trained {args.model} on {run.data.name} with a {args.prior} prior: {trainer.step_count} steps "
        f"({trainer.snapshot().epoch:.1f} epochs) in {run.seconds:.1f} s on {trainer.device}"
    )
    print(format_metrics(metrics))
    print(f"saved {path}")
    return 0


def format_metrics(metrics: dict) -> str:
    """An aligned two-column table."""
    width = max(map(len, metrics))
    return "\n".join(
        f"  {k:<{width}}  {'n/a' if v is None else f'{v:.4f}' if isinstance(v, float) else v}"
        for k, v in metrics.items()
    )


def _eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aae-eval", description="Evaluate a checkpoint on its dataset's test split.")
    p.add_argument("checkpoint", help="path to a checkpoint (the .safetensors suffix is optional)")
    p.add_argument("--dataset", help="evaluate on this dataset instead of the one it was trained on")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--device", default="auto")
    return p


def evaluate_command(args: argparse.Namespace) -> int:
    from .runs import CHECKPOINT_FIELDS, evaluate_checkpoint

    result = evaluate_checkpoint(args.checkpoint, args.dataset, args.device)
    if args.json:
        print(json.dumps(result))
    else:
        r = result
        print(f"{r['checkpoint']}: {r['model']} / {r['prior']} prior / {r['dataset']} / step {r['step']}")
        print(format_metrics({k: result[k] for k in result if k not in CHECKPOINT_FIELDS}))
    return 0


def _run(parser: argparse.ArgumentParser, command: Callable[[argparse.Namespace], int], argv: list[str] | None) -> int:
    """Parse, run, and turn user errors into one line on stderr with exit status 2."""
    args = parser.parse_args(argv)
    try:
        return command(args)
    except AAEError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:  # a destination that went bad during the run: one line naming the path
        where = f"{e.filename}: " if e.filename else ""
        print(f"{parser.prog}: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


def train_main(argv: list[str] | None = None) -> int:
    from .runs import train_parser

    return _run(train_parser(), train, argv)


def eval_main(argv: list[str] | None = None) -> int:
    return _run(_eval_parser(), evaluate_command, argv)


def bench_main(argv: list[str] | None = None) -> int:
    from . import bench

    return _run(bench.parser(), bench.run, argv)


def report_main(argv: list[str] | None = None) -> int:
    from . import report

    return _run(report.parser(), report.run, argv)


def sweep_main(argv: list[str] | None = None) -> int:
    from . import sweep

    return _run(sweep.parser(), sweep.run, argv)


COMMANDS = {"train": train_main, "eval": eval_main, "bench": bench_main, "report": report_main, "sweep": sweep_main}


def main(argv: list[str] | None = None) -> int:
    """`python -m aae_core <command> ...`"""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m aae_core {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return EXIT_BAD_INPUT
    return COMMANDS[argv[0]](argv[1:])
