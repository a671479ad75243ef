"""What limits a training step (issue 16): every matmul and Adam update of one real `Trainer.step`, replayed
alone at the shapes and memory layouts the step gave it, beside the whole step.

    flock /tmp/aae-cpu.lock python -m bench.step_roofline --size explorer --threads 2 --out FILE

A dispatch mode records each mm/addmm the step runs (its operands' shapes and strides: autograd hands the
backward's products transposed views) and each fused Adam update (its parameters' shapes and rates). Each is then
timed alone on fresh tensors of the same layout, best of several windows; the products against the square-matmul
peak measured in the same run. Their sum is the step's matmul floor: what the step would take if the optimizer,
the elementwise work and Python cost nothing, so `flops / floor / peak` is the highest MFU these products allow
at this size and thread count. What the step takes beyond the products and the Adam updates alone is the rest:
elementwise work and losses, autograd and Python, and whatever the products and updates lose to each other's
cache traffic inside the step.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections import Counter
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from aae_core.bench import bench_config
from aae_core.data import load_dataset
from aae_core.settings import SIZE_PRESETS
from aae_core.timing import best_seconds_per_call, sgemm_gflops
from aae_core.training import Trainer

MATMULS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default}
ADAM = torch.ops.aten._fused_adam_.default
Layout = tuple[str, tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]]  # (op, ((shape, strides) per operand))


class RecordStep(TorchDispatchMode):
    """Counts every mm/addmm run under it by operator and operand layout, and keeps each fused Adam update's
    parameter shapes and rates."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: Counter[Layout] = Counter()
        self.adams: list[tuple[list[tuple[int, ...]], dict]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in MATMULS:
            tensors = tuple((tuple(a.shape), tuple(a.stride())) for a in args if isinstance(a, torch.Tensor))
            self.seen[(func.__name__, tensors)] += 1
        elif func is ADAM:
            self.adams.append(([tuple(t.shape) for t in args[0]], dict(kwargs)))
        return func(*args, **kwargs)


def product_flops(layout: Layout) -> int:
    """2 M K N of the product the layout's last two operands make."""
    (m, k), (_, n) = layout[1][-2][0], layout[1][-1][0]
    return 2 * m * k * n


def replay_seconds(layout: Layout, device: torch.device, windows: int) -> float:
    """Best seconds of this one product alone, on random operands of the recorded shapes and strides."""
    op, operands = layout
    tensors = [torch.empty_strided(shape, stride, device=device).normal_() for shape, stride in operands]
    func = torch.ops.aten.mm.default if op.startswith("mm") else torch.ops.aten.addmm.default
    return best_seconds_per_call(lambda: func(*tensors), device, window_s=0.2, windows=windows)


def adam_seconds(shapes: list[tuple[int, ...]], rates: dict, device: torch.device, windows: int) -> float:
    """Best seconds of one fused Adam update alone, over fresh parameters, gradients and moments of these shapes."""
    params, grads, avgs, sqs = ([torch.rand(s, device=device) for s in shapes] for _ in range(4))
    steps = [torch.zeros((), device=device) for _ in shapes]
    return best_seconds_per_call(
        lambda: ADAM(params, grads, avgs, sqs, [], steps, **rates), device, window_s=0.2, windows=windows
    )


def describe(layout: Layout) -> str:
    """'addmm 100x784 @ 784x256 (B transposed)': the product and which operand arrived as a transposed view."""
    (a_shape, a_stride), (b_shape, b_stride) = layout[1][-2], layout[1][-1]
    flags = [name for name, stride in (("A", a_stride), ("B", b_stride)) if stride[0] == 1 and stride[1] != 1]
    suffix = f" ({' and '.join(flags)} transposed)" if flags else ""
    return f"{layout[0].split('.')[0]} {a_shape[0]}x{a_shape[1]} @ {b_shape[0]}x{b_shape[1]}{suffix}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("aae", "vae"), default="aae")
    p.add_argument("--size", choices=tuple(SIZE_PRESETS), default="explorer")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--windows", type=int, default=7)
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    data = load_dataset("mnist5k")
    widths = (SIZE_PRESETS[args.size],) * 2
    trainer = Trainer(bench_config(args.model, widths, 2, args.batch_size, data), data, publish_every_s=math.inf)
    for _ in range(10):
        trainer.step()
    recorder = RecordStep()
    with recorder:
        trainer.step()
    peak = sgemm_gflops(device, 2048, 5) * 1e9
    step_s = best_seconds_per_call(trainer.step, device, window_s=1.0, windows=args.windows)
    rows = []
    for layout, count in recorder.seen.items():
        seconds = replay_seconds(layout, device, args.windows)
        flops = product_flops(layout)
        rows.append({"product": describe(layout), "per_step": count, "us": round(seconds * 1e6, 1),
                     "efficiency": round(flops / seconds / peak, 3), "flops": flops, "seconds": seconds})  # fmt: skip
    step_flops = sum(r["flops"] * r["per_step"] for r in rows)
    floor_s = sum(r["seconds"] * r["per_step"] for r in rows)
    rows.sort(key=lambda r: r["efficiency"])
    adam_s = [adam_seconds(shapes, rates, device, args.windows) for shapes, rates in recorder.adams]
    result = {
        "machine": {
            "cores": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
            "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        },
        "model": args.model,
        "size": args.size,
        "batch_size": args.batch_size,
        "peak_gflops": round(peak / 1e9, 1),
        "step_ms": round(step_s * 1e3, 3),
        "gflop_per_step": round(step_flops / 1e9, 4),
        "mfu": round(step_flops / step_s / peak, 3),
        "matmul_floor_ms": round(floor_s * 1e3, 3),
        "mfu_ceiling": round(step_flops / floor_s / peak, 3),
        "adam_ms": [round(s * 1e3, 3) for s in adam_s],
        "rest_ms": round((step_s - floor_s - sum(adam_s)) * 1e3, 3),
        "products": [{k: v for k, v in r.items() if k not in ("flops", "seconds")} for r in rows],
    }
    print(f"{args.model} {args.size}, batch {args.batch_size}, {args.threads} thread(s): step {result['step_ms']} ms "
          f"(MFU {result['mfu']}); its {sum(r['per_step'] for r in rows)} matmuls alone {result['matmul_floor_ms']} "
          f"ms (MFU ceiling {result['mfu_ceiling']}); its {len(adam_s)} Adam updates alone {sum(result['adam_ms']):.3f}"
          f" ms; the rest {result['rest_ms']} ms; peak {result['peak_gflops']} GFLOP/s")  # fmt: skip
    for r in rows:
        print(f"  {r['per_step']:>2} x {r['product']:<48} {r['us']:>8.1f} us  {r['efficiency']:.2f} of peak")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
