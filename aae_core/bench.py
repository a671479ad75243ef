"""`aae-bench`: how close training runs to the machine's matmul peak, and how fast a fit settles.

Every figure comes from the same run on the same device:
  sgemm_gflops     the device's fp32 matmul peak: the best of every reading in the run (square matmuls, one
                   reading before each throughput figure, so one taken under a transient load cannot set it;
                   each with the 1-minute load average beside it);
  train            samples/s of the real `Trainer.step` (all phases) for AAE and VAE at the paper and
                   explorer sizes (or at the widths of --hidden/--disc-hidden, the "custom" size; every row at
                   --batch-size); GFLOP per step counted by FlopCounterMode on a real step; mfu = GFLOP/s / peak
                   (never above 1: see `peak_and_mfu`);
                   on CPU also the `*_plain` rows: the same step by the straightforward loop (aae_core/reference.py),
                   the "before" of every optimisation, measured in the same run;
  seconds_to_fit   wall seconds until a fresh AAE with the app's defaults on mnist5k reaches FIT_TARGET on held-out
                   codes, counting data loading, setup, training and publishing, but not the periodic checks;
  decode_ms        one decode and a 20x20 manifold grid at the explorer size;
  scale            (--scale) epoch time and resident-memory growth from digits to fashion, each in a fresh process.
Times are the best of several timed windows (the least disturbed by other work on the machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .config import AAEError, RunConfig, build_run_config
from .data import Dataset, load_dataset
from .metrics import knn_accuracy, prior_match
from .models import build_model
from .reference import ReferenceLoop
from .settings import SIZE_PRESETS
from .timing import best_seconds_per_call, cpu_name, peak_and_mfu, rss_mb, sgemm_gflops, step_flops, sync
from .training import Trainer, resolve_device
from .untrusted import check_output_file

# prior_mmd at most 3x its floor (two prior samples of the same size), knn_accuracy at least 0.6
FIT_TARGET = {"prior_mmd_ratio": 3.0, "knn_accuracy": 0.6}
CHECK_EVERY_S = 0.25  # training wall time between two fit checks
SCALE_DATASETS = ("digits", "mnist5k", "fashion")


def parser() -> argparse.ArgumentParser:
    """Flags of `aae-bench`."""
    p = argparse.ArgumentParser(prog="aae-bench", description="Training throughput, MFU, time to fit, decode latency.")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument(
        "--quick", action="store_true", help="short timing windows and one fit (a smoke test, not a measurement)"
    )
    p.add_argument(
        "--scale", action="store_true", help="also measure epoch time and memory from digits to fashion (70K)"
    )
    p.add_argument("--latent-dim", type=int, default=2, help="code size for the throughput figures (paper: 2 or 8)")
    p.add_argument("--batch-size", type=int, default=100, help="minibatch of the throughput figures (default 100)")
    p.add_argument("--hidden", help="encoder and decoder hidden widths, e.g. 512,512 (instead of the presets)")
    p.add_argument("--disc-hidden", help="discriminator hidden widths, e.g. 512,256 (default: --hidden's)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice, one per core)")
    p.add_argument("--out", help="also write the JSON to this file")
    return p


def parse_widths(name: str, text: str) -> tuple[int, ...]:
    """'512,256' as (512, 256); the widths themselves are checked with the rest of the model (ModelConfig)."""
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise AAEError(f"{name}={text!r}: must be comma-separated integers, e.g. 512,512") from None


def architectures(args: argparse.Namespace) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """The sizes to time, as (encoder/decoder widths, discriminator widths): the two presets, or the flags' one."""
    if args.hidden is None and args.disc_hidden is None:
        return {name: (SIZE_PRESETS[name],) * 2 for name in ("paper", "explorer")}  # the order of earlier results
    hidden = parse_widths("hidden", args.hidden) if args.hidden else SIZE_PRESETS["explorer"]
    return {"custom": (hidden, parse_widths("disc_hidden", args.disc_hidden) if args.disc_hidden else hidden)}


def bench_config(
    model: str, widths: tuple[tuple[int, ...], tuple[int, ...]], latent_dim: int, batch: int, data: Dataset
) -> RunConfig:
    """A validated config of `model` at these widths, code size and batch, on `data`."""
    config = build_run_config(
        model=model, prior="gaussian", latent_dim=latent_dim, batch_size=batch, input_dim=data.input_dim
    )
    arch = dataclasses.replace(config.model, hidden=widths[0], disc_hidden=widths[1])
    return dataclasses.replace(config, model=arch).validate(data.x_train.shape[0])


def training_figures(
    model: str,
    size: str,
    config: RunConfig,
    data: Dataset,
    device: torch.device,
    window_s: float,
    windows: int,
    plain: bool = False,
) -> dict:
    """Throughput of the full training step (all phases) with publishing off, as a headless run trains; with
    `plain`, of the reference loop on the same model and data (the same math, so the same FLOPs). Its mfu is set
    by `peak_and_mfu` once every peak reading is in."""
    trainer = Trainer(config, data, device=str(device.type), publish_every_s=math.inf)
    flops = step_flops(trainer)
    step = ReferenceLoop(config, data, trainer.model).step if plain else trainer.step
    seconds = best_seconds_per_call(step, device, window_s, windows)
    batch = config.train.batch_size
    widths = [data.input_dim, *config.model.hidden, config.model.latent_dim]
    return {
        "model": model,
        "size": size,
        "loop": "plain" if plain else "trainer",
        "layers": "-".join(map(str, widths)),
        "disc_layers": "-".join(map(str, [config.model.latent_dim, *config.model.disc_hidden, 1])),
        "batch_size": batch,
        "samples_per_s": round(batch / seconds, 1),
        "step_ms": round(seconds * 1e3, 3),
        "gflop_per_step": round(flops / 1e9, 4),
        "gflops": round(flops / seconds / 1e9, 2),
    }


def fit_check(trainer: Trainer) -> tuple[float, float, bool]:
    """prior_mmd of the held-out codes as a multiple of its floor, their 5-NN accuracy from the training codes,
    and whether both meet FIT_TARGET."""
    data = trainer.data
    if data.y_train is None or data.y_test is None:
        raise AAEError(f"{data.name}: the fit check needs labels for its 5-NN accuracy")
    test = trainer.encode(data.x_test)
    ratio = prior_match(test, trainer.prior, seed=trainer.config.train.seed)["prior_mmd_ratio"]
    knn = knn_accuracy(trainer.encode(data.x_train), data.y_train.cpu().numpy(), test, data.y_test.cpu().numpy())
    return ratio, knn, ratio <= FIT_TARGET["prior_mmd_ratio"] and knn >= FIT_TARGET["knn_accuracy"]


def fit_figures(device: torch.device, seed: int, budget_s: float) -> dict:
    """Seconds until a fresh AAE with the app's defaults (the recipe's Gaussian prior, 2-D, explorer size) on mnist5k
    reaches FIT_TARGET (None if not within budget_s)."""
    start = time.perf_counter()
    data = load_dataset("mnist5k", seed=seed)
    config = build_run_config(model="aae", latent_dim=2, size="explorer", seed=seed)
    trainer = Trainer(config, data, device=str(device.type))  # publishes every 0.5 s, as the app's trainer does
    spent, checks = time.perf_counter() - start, 0.0
    while True:
        t = time.perf_counter()
        while time.perf_counter() - t < CHECK_EVERY_S:
            trainer.step()
        spent += time.perf_counter() - t
        t = time.perf_counter()
        mmd, knn, reached = fit_check(trainer)
        checks += time.perf_counter() - t
        if reached or spent >= budget_s:
            return {
                "seed": seed,
                "seconds": round(spent, 2) if reached else None,
                "trained_s": round(spent, 2),
                "steps": trainer.step_count,
                "epochs": round(trainer.snapshot().epoch, 2),
                "prior_mmd_ratio": round(mmd, 2),
                "knn_accuracy": round(knn, 4),
                "check_s_excluded": round(checks, 2),
            }


def decode_figures(device: torch.device, window_s: float, windows: int) -> dict:
    """Latency of `model.decode` at the explorer size: one code (the pad) and a 20x20 grid (the manifold view)."""
    config = build_run_config(model="aae", prior="gaussian", size="explorer")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(config.model).to(device).eval()
    one, grid = torch.zeros(1, 2, device=device), torch.randn(400, 2, device=device)
    with torch.no_grad():
        return {
            "one": round(best_seconds_per_call(lambda: model.decode(one), device, window_s, windows) * 1e3, 4),
            "grid_20x20": round(best_seconds_per_call(lambda: model.decode(grid), device, window_s, windows) * 1e3, 4),
        }


def scale_point(name: str, device: str) -> dict:
    """Load one dataset and train one epoch of the explorer-default AAE: time and memory growth (run in a fresh
    process)."""
    dev = resolve_device(device)
    # digits' loader imports scikit-learn on first use: that is not data, so it is loaded before the baseline.
    import sklearn.datasets  # noqa: F401

    base = rss_mb()
    t = time.perf_counter()
    data = load_dataset(name)
    load_s = time.perf_counter() - t
    data_mb = rss_mb() - base
    config = build_run_config(model="aae", prior="gaussian", size="explorer", input_dim=data.input_dim)
    trainer = Trainer(config, data, device=device, publish_every_s=math.inf)
    sync(dev)
    t = time.perf_counter()
    trainer.run(epochs=1)
    sync(dev)
    epoch_s = time.perf_counter() - t
    n = data.x_train.shape[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "dataset": name,
        "n_train": n,
        "input_dim": data.input_dim,
        "load_s": round(load_s, 2),
        "epoch_s": round(epoch_s, 3),
        "us_per_sample": round(epoch_s / n * 1e6, 2),
        "rss_data_mb": round(data_mb, 1),
        "rss_growth_mb": round(rss_mb() - base, 1),
        "peak_growth_mb": round(peak - base, 1),
        "rss_bytes_per_sample": round((rss_mb() - base) * 2**20 / n),
    }


def _scale_in_subprocess(name: str, device: str) -> dict:
    """A fresh interpreter per dataset, so each memory figure starts from the same baseline."""
    code = (
        "import json, sys; from aae_core.bench import scale_point; "
        "print(json.dumps(scale_point(sys.argv[1], sys.argv[2])))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")])
        ),
    }
    done = subprocess.run(
        [sys.executable, "-c", code, name, device], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        return {"dataset": name, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    """All figures, as one dict (the JSON output)."""
    device = resolve_device(args.device)
    data = load_dataset("mnist5k")
    # Refuse a bad flag before minutes of measuring, not after.
    sizes = architectures(args)
    configs = {
        (model, size): bench_config(model, widths, args.latent_dim, args.batch_size, data)
        for model in ("aae", "vae")
        for size, widths in sizes.items()
    }
    if args.threads is not None:
        if args.threads < 1:
            raise AAEError(f"threads={args.threads}: must be an integer >= 1")
        torch.set_num_threads(args.threads)
    quick = args.quick
    window_s, windows = (0.3, 2) if quick else (1.0, 5)
    result: dict = {
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "device": device.type,
            "load_avg_1min_at_start": round(os.getloadavg()[0], 2),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        },
        "settings": {
            "quick": quick,
            "latent_dim": args.latent_dim,
            "batch_size": args.batch_size,
            "timing": f"best of {windows} windows of ~{window_s} s",
        },
    }
    n, reps = (8192 if device.type == "cuda" else 2048), (3 if quick else 5)
    readings: list[float] = []
    loads: list[float] = []

    def read_peak() -> None:
        readings.append(round(sgemm_gflops(device, n, reps), 1))
        loads.append(round(os.getloadavg()[0], 2))

    log(f"sgemm {n}^2 ...")
    read_peak()
    result["train"] = {}
    # The reference loop draws its noise from CPU generators, so it runs on CPU only.
    loops = (False, True) if device.type == "cpu" else (False,)
    for (model, size), config in configs.items():
        for plain in loops:
            name = f"{model}_{size}{'_plain' if plain else ''}"
            log(f"training throughput {name} ...")
            read_peak()
            result["train"][name] = training_figures(model, size, config, data, device, window_s, windows, plain)
    peak = peak_and_mfu(result["train"], readings)
    result["sgemm_gflops"] = round(peak, 1)
    result["sgemm"] = {
        "n": n,
        "reps": reps,
        "readings": readings,
        "load_avg_1min": loads,
        "peak_from": "matmul readings" if peak == max(readings) else "a training step's matmul rate",
    }
    seeds, budget = ((0,), 8.0) if quick else ((0, 1, 2), 60.0)
    runs = []
    for seed in seeds:
        log(f"time to fit, seed {seed} ...")
        runs.append(fit_figures(device, seed, budget))
    times = [r["seconds"] for r in runs]
    result["seconds_to_fit"] = None if None in times else sorted(times)[len(times) // 2]  # the median seed
    result["fit"] = {
        "target": FIT_TARGET,
        "check_every_s": CHECK_EVERY_S,
        "budget_s": budget,
        "runs": runs,
        "counts": "load + setup + training + publishing; the periodic checks are excluded",
    }
    log("decode latency ...")
    result["decode_ms"] = decode_figures(device, 0.1 if quick else 0.5, windows)
    result["machine"]["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    if args.scale:
        result["scale"] = []
        for name in SCALE_DATASETS:
            log(f"scale: one epoch on {name} ...")
            result["scale"].append(_scale_in_subprocess(name, device.type))
    return result


def format_table(r: dict) -> str:
    """The figures as an aligned text table."""
    m = r["machine"]
    lines = [
        f"AAE Explorer benchmark on {m['device_name']} ({m['cores']} cores, {m['torch_threads']} torch threads), "
        f"torch {m['torch']}, device {m['device']}; {r['settings']['timing']}",
        f"fp32 matmul peak ({r['sgemm']['n']}^2; best of {len(r['sgemm']['readings'])} readings between the step "
        f"windows, {min(r['sgemm']['readings']):.0f}-{max(r['sgemm']['readings']):.0f}, each the best of "
        f"{r['sgemm']['reps']} products): "
        f"{r['sgemm_gflops']:.1f} GFLOP/s; 1-min load average {m['load_avg_1min_at_start']} at the start, "
        f"{min(r['sgemm']['load_avg_1min'])}-{max(r['sgemm']['load_avg_1min'])} at the readings",
        "",
        f"{'training step (all phases)':<49}{'samples/s':>11}{'step ms':>10}{'GFLOP/step':>12}"
        f"{'GFLOP/s':>10}{'mfu':>7}",
    ]
    for t in r["train"].values():
        label = f"{t['model'].upper()} {t['size']} {t['layers']}, batch {t['batch_size']}" + (
            " (plain loop)" if t.get("loop") == "plain" else ""
        )
        lines.append(
            f"{label:<49}{t['samples_per_s']:>11.0f}{t['step_ms']:>10.2f}{t['gflop_per_step']:>12.3f}"
            f"{t['gflops']:>10.1f}{t['mfu']:>7.2f}"
        )
    fit = r["fit"]
    runs = ", ".join(
        f"seed {x['seed']}: "
        f"{'not within ' + str(fit['budget_s']) + ' s' if x['seconds'] is None else str(x['seconds']) + ' s'}"
        f" ({x['steps']} steps, MMD^2 {x['prior_mmd_ratio']:.1f}x floor, knn {x['knn_accuracy']:.2f})"
        for x in fit["runs"]
    )
    stf = "not reached" if r["seconds_to_fit"] is None else f"{r['seconds_to_fit']} s"
    lines += [
        "",
        f"seconds to fit (app-default AAE, mnist5k, prior_mmd <= {FIT_TARGET['prior_mmd_ratio']:g}x floor, "
        f"knn >= {FIT_TARGET['knn_accuracy']}; checks excluded): {stf}",
        f"  {runs}",
        f"decode (explorer size): one code {r['decode_ms']['one']:.3f} ms, "
        f"20x20 grid {r['decode_ms']['grid_20x20']:.3f} ms",
    ]
    if "scale" in r:
        lines += [
            "",
            f"{'one epoch, explorer AAE':<26}{'n_train':>9}{'epoch s':>9}{'us/sample':>11}{'data MiB':>10}"
            f"{'RSS growth MiB':>16}",
        ]
        for s in r["scale"]:
            if "error" in s:
                lines.append(f"{s['dataset']:<26}  {s['error']}")
            else:
                lines.append(
                    f"{s['dataset']:<26}{s['n_train']:>9}{s['epoch_s']:>9.2f}{s['us_per_sample']:>11.1f}"
                    f"{s['rss_data_mb']:>10.1f}{s['rss_growth_mb']:>16.1f}"
                )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Measure, then print a table (or one JSON object with --json) and optionally write the JSON to --out."""

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.out:
        check_output_file(args.out)  # before minutes of measuring
    result = measure(args, log)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result) if args.json else format_table(result))
    return 0
