"""One Adam update of a loss's parameters: the kernel `torch.optim.Adam(fused=True)` runs, called without the
optimizer's per-call bookkeeping.

`Optimizer.step` re-gathers its state lists, checks devices and groups tensors on every call, and `zero_grad` walks
every parameter: at the explorer size ~30-80 us more per update than the kernel alone (1 thread), three updates
per AAE step. Here the state lists are gathered once and the gradients come straight from `torch.autograd.grad`
(never stored in `.grad`, so nothing is zeroed and no unrequested weight gradient is computed). The wrapped
`torch.optim.Adam` still owns the state and the hyper-parameters, so live learning-rate changes through its
`param_groups` apply at the next update.
"""

from __future__ import annotations

import torch


class FusedAdamUpdate:
    """`update(loss)`: the parameters of `opt` (one param group, fused, no amsgrad) take one Adam step on `loss`."""

    def __init__(self, opt: torch.optim.Adam):
        (group,) = opt.param_groups
        if not group["fused"] or group["amsgrad"] or group["maximize"] or group["decoupled_weight_decay"]:
            raise ValueError("FusedAdamUpdate repeats only fused Adam without amsgrad, maximize or AdamW decay")
        self.group = group
        self.params: list[torch.Tensor] = list(group["params"])
        for p in self.params:  # the state torch.optim.Adam's fused path creates on its first step
            state = opt.state[p]
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        states = [opt.state[p] for p in self.params]
        self.exp_avgs = [s["exp_avg"] for s in states]
        self.exp_avg_sqs = [s["exp_avg_sq"] for s in states]
        self.steps = [s["step"] for s in states]

    def update(self, loss: torch.Tensor) -> None:
        grads = list(torch.autograd.grad(loss, self.params))
        g = self.group
        beta1, beta2 = g["betas"]
        with torch.no_grad():
            torch._foreach_add_(self.steps, 1)
            torch._fused_adam_(
                self.params, grads, self.exp_avgs, self.exp_avg_sqs, [], self.steps,
                amsgrad=False, lr=g["lr"], beta1=beta1, beta2=beta2, weight_decay=g["weight_decay"], eps=g["eps"],
                maximize=False, grad_scale=None, found_inf=None,
            )  # fmt: skip
