"""torch.compile against eager for the Trainer's AAE step (issue 16), two ways, each timed against the same
seeded eager Trainer in one process, at each size and thread count asked for:
  * `modules`: the encoder, decoder and discriminator each wrapped in `torch.compile` (inductor, static shapes),
    the plain wrapping a user would try first;
  * `step`: the three phases with their three Adam updates as one graph (`fullgraph=True`), which leaves no
    Python, autograd engine or separate elementwise kernel between the products. Dynamo traces
    `torch.autograd.grad` only with its `trace_autograd_ops` switch, and the fused Adam kernel not at all, so the
    update is written out with the fused kernel's formula on the same moment tensors; the run reports how far
    the compiled Trainer's parameters are from the eager one's after the warm-up steps (float rounding).
Compile time (the first steps, which trace and build the kernels) is reported apart from the steady state, which
is the best of `--windows` windows of `--window-s`.

    flock /tmp/aae-cpu.lock python -m bench.compile_speed --out bench/results/compile_speed.json

Run it with TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 for cold compile times: inductor otherwise reuses kernels an
earlier run left on disk. The discriminator sees 100 and 200 rows and the encoder inputs with and without
requires_grad, so dynamo recompiles several times and, past its recompile limit (8), runs the rest eagerly:
the `modules` rows measure that. The project keeps eager mode, as neither compiled form is clearly faster here
once its compile time counts; this is the measurement behind that.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from aae_core.adam import FusedAdamUpdate
from aae_core.config import build_run_config
from aae_core.data import load_dataset
from aae_core.losses import recon_loss
from aae_core.training import Trainer

WARM_STEPS = 5  # enough for every shape a step uses to be traced and compiled


def written_adam(u: FusedAdamUpdate, loss: torch.Tensor) -> None:
    """`u.update(loss)` in plain tensor ops, the fused kernel's formula on the same moments, so dynamo can trace it."""
    grads = torch.autograd.grad(loss, u.params)
    (beta1, beta2), lr, eps = u.group["betas"], u.group["lr"], u.group["eps"]
    with torch.no_grad():
        for p, g, avg, sq, step in zip(u.params, grads, u.exp_avgs, u.exp_avg_sqs, u.steps):
            step.add_(1)
            avg.lerp_(g, 1 - beta1)
            sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = sq.sqrt() / (1 - beta2**step).sqrt() + eps
            p.sub_(lr / (1 - beta1**step) * avg / denom)


def compile_whole_step(t: Trainer) -> None:
    """Replace `t`'s AAE phases (unconditioned, no discriminator noise) by one compiled graph; batches, prior
    samples, history and publishing stay the Trainer's own."""
    assert not t.conditioned and t.config.train.disc_noise == 0, "the written-out phases omit labels and noise"
    m = t.model

    def phases(x: torch.Tensor, z_real: torch.Tensor) -> torch.Tensor:
        recon = recon_loss(x, m.decoder(m.encoder(x)))
        written_adam(t._recon, recon)
        z_fake = m.encoder(x)
        logits = m.discriminator(torch.cat([z_real, z_fake.detach()]))
        d_loss = F.binary_cross_entropy_with_logits(logits, t._real_then_fake)
        written_adam(t._disc, d_loss)
        d_acc = ((logits > 0).float() == t._real_then_fake).float().mean()
        g_loss = F.binary_cross_entropy_with_logits(m.discriminator(z_fake), t._ones)
        written_adam(t._gen, g_loss)
        return torch.stack([recon.detach(), d_loss.detach(), g_loss.detach(), d_acc])

    graph = torch.compile(phases, fullgraph=True, dynamic=False)

    def aae_step(model, x, idx, phase):
        out = graph(x, t.prior.sample(x.shape[0], None, t.prior_gen))
        return [*out, math.nan]

    t._aae_step = aae_step  # type: ignore[method-assign]


def trainer(data, size: str, mode: str | None) -> Trainer:
    """A seeded AAE Trainer at `size`, eager (mode None) or compiled `modules` or `step`."""
    t = Trainer(build_run_config(model="aae", size=size, seed=0), data, publish_every_s=math.inf)
    torch._dynamo.reset()  # dynamo's recompile limit counts per wrapped function, across earlier trainers
    if mode == "modules":
        for name in ("encoder", "decoder", "discriminator"):
            setattr(t.model, name, torch.compile(getattr(t.model, name), dynamic=False))
    elif mode == "step":
        compile_whole_step(t)
    return t


def max_difference(a: Trainer, b: Trainer) -> float:
    """The largest absolute difference between two trainers' parameters."""
    return max((p - q).abs().max().item() for p, q in zip(a.model.parameters(), b.model.parameters()))


def first_steps_s(t: Trainer) -> float:
    """Seconds of the first WARM_STEPS steps (which compile, where compiled)."""
    start = time.perf_counter()
    for _ in range(WARM_STEPS):
        t.step()
    return round(time.perf_counter() - start, 2)


def window(t: Trainer, window_s: float) -> float:
    """Samples/s of `t` over one window of about window_s."""
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < window_s:
        t.step()
        steps += 1
    return steps * t.config.train.batch_size / (time.perf_counter() - start)


def race(eager: Trainer, compiled: Trainer, windows: int, window_s: float) -> tuple[dict, dict]:
    """Both trainers' first steps, then their best windows, timed in alternating order (a noisy machine slows both
    alike), and how far apart their parameters were after the same first steps."""
    first = [first_steps_s(eager), first_steps_s(compiled)]
    difference = max_difference(eager, compiled)
    best = [0.0, 0.0]
    for w in range(windows):
        for i in (0, 1) if w % 2 == 0 else (1, 0):
            best[i] = max(best[i], window((eager, compiled)[i], window_s))
    e, c = ({"first_steps_s": f, "samples_per_s": round(b, 1)} for f, b in zip(first, best))
    return e, {**c, "max_difference": difference}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modes", default="modules,step", help="what to compile: modules, step, or both")
    p.add_argument("--sizes", default="explorer,paper")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--window-s", type=float, default=1.5)
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    data = load_dataset("mnist5k")
    torch._dynamo.config.trace_autograd_ops = True  # lets the `step` graph hold torch.autograd.grad
    rows = []
    for size in args.sizes.split(","):
        for threads in map(int, args.threads.split(",")):
            torch.set_num_threads(threads)
            for mode in args.modes.split(","):
                eager_t, compiled_t = trainer(data, size, None), trainer(data, size, mode)
                eager, compiled = race(eager_t, compiled_t, args.windows, args.window_s)
                ratio = round(compiled["samples_per_s"] / eager["samples_per_s"], 3)
                rows.append({"mode": mode, "size": size, "threads": threads, "eager": eager, "compiled": compiled,
                             "ratio": ratio})  # fmt: skip
                print(f"AAE {size}, {threads} thread(s), compiled {mode}: eager {eager['samples_per_s']:,.0f} "
                      f"samples/s; compiled {compiled['samples_per_s']:,.0f} ({ratio}x), its first {WARM_STEPS} "
                      f"steps {compiled['first_steps_s']} s, parameters {compiled['max_difference']:.1e} from "
                      "eager's after them", flush=True)  # fmt: skip
    result = {
        "machine": {"cores": os.cpu_count(), "torch": torch.__version__, "load_avg_1min_at_end": os.getloadavg()[0]},
        "timing": f"best of {args.windows} alternating windows of ~{args.window_s} s after {WARM_STEPS} warm-up steps",
        "runs": rows,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
