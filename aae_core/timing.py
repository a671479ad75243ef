"""How `aae-bench` measures: the machine's name and memory, best-of-windows timing, the matmul peak, and FLOPs.

Kept apart from `aae_core.bench` (what is measured, and the table), so that each figure there reads as a call
of these; the scripts in bench/ use them too.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .training import Trainer


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def rss_mb() -> float:
    """This process's resident memory now, in MiB (peak memory where /proc is missing)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so a timer reads finished work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds_per_call(fn: Callable[[], object], device: torch.device, window_s: float, windows: int) -> float:
    """Lowest mean seconds per call over `windows` timed windows of about `window_s`, after one warm-up window."""
    sync(device)
    start, calls = time.perf_counter(), 0
    while calls < 2 or time.perf_counter() - start < window_s:
        fn()
        calls += 1
    sync(device)
    calls = max(1, round(window_s * calls / (time.perf_counter() - start)))
    best = math.inf
    for _ in range(windows):
        sync(device)
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        sync(device)
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def sgemm_gflops(device: torch.device, n: int, reps: int) -> float:
    """fp32 matmul peak: best of `reps` n x n x n products."""
    g = torch.Generator(device=device).manual_seed(0)
    a, b = (torch.randn(n, n, generator=g, device=device) for _ in range(2))
    out = torch.empty(n, n, device=device)
    seconds = best_seconds_per_call(lambda: torch.mm(a, b, out=out), device, window_s=0.0, windows=reps)
    return 2 * n**3 / seconds / 1e9


def step_flops(trainer: Trainer) -> int:
    """Matmul FLOPs of one real training step, counted by torch (elementwise work and Adam are not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        trainer.step()
    return counter.get_total_flops()


def peak_and_mfu(train: dict[str, dict], readings: list[float]) -> float:
    """The peak the run's MFUs are measured against, after setting each row's mfu: the best of all matmul readings,
    and of the steps' own matmul rates (fp32 matmuls on the same device, so the device reached at least that).
    A reading taken under a transient load (110 GFLOP/s once, 195-199 when quiet) therefore never sets it, and
    no MFU can exceed 1."""
    peak = max([*readings, *(t["gflops"] for t in train.values())])
    for t in train.values():
        t["mfu"] = round(t["gflops"] / peak, 3)
    return peak
