"""The optimised Trainer computes exactly the paper's loop: each step matches the plain reference loop
(aae_core/reference.py). Any speed-up in the Trainer must leave the parameters it produces equal to the
reference's, up to float rounding.
"""

import pytest

from aae_core.config import build_run_config
from aae_core.reference import ReferenceLoop
from aae_core.training import Trainer

STEPS = 3
# Fused-Adam rounding after a few steps reaches ~2e-5 at lr_recon=2e-3; one wrong update moves weights by ~lr (>= 2e-4).
ATOL = 5e-5


def assert_same_parameters(trainer, ref):
    for (name, got), want in zip(trainer.model.named_parameters(), ref.model.parameters()):
        err = (got - want).abs().max().item()
        assert err <= ATOL, f"{name}: differs from the reference by {err:.3g}"


CASES = {
    "aae_gaussian": dict(model="aae", prior="gaussian"),
    "aae_mixture_noise": dict(model="aae", prior="mixture", disc_noise=0.3),
    "aae_conditioned_noise": dict(
        model="aae", prior="mixture", label_conditioned=True, label_fraction=0.5, disc_noise=0.2
    ),
    "aae_swissroll_conditioned": dict(model="aae", prior="swissroll", label_conditioned=True, label_fraction=1.0),
    "vae_gaussian": dict(model="vae", prior="gaussian", prior_std=2.0),
    "vae_mixture": dict(model="vae", prior="mixture"),
}


def build(data, case, **extra):
    config = build_run_config(input_dim=data.input_dim, batch_size=64, seed=5, **CASES[case], **extra)
    trainer = Trainer(config, data, publish_every_s=float("inf"))
    return trainer, ReferenceLoop(config, data, trainer.model)


@pytest.mark.parametrize("case", CASES)
def test_full_steps_match_the_reference(digits, case):
    trainer, ref = build(digits, case)
    for _ in range(STEPS):
        trainer.step()
        ref.step()
        assert_same_parameters(trainer, ref)


def test_single_phases_match_the_reference(digits):
    trainer, ref = build(digits, "aae_conditioned_noise")
    for phase in ("disc", "gen", "recon", "full", "gen", "disc"):
        trainer.step(phase)
        ref.aae_step(phase)
        assert_same_parameters(trainer, ref)


def test_learning_rate_changes_reach_the_optimizers_as_in_the_reference(digits):
    trainer, ref = build(digits, "aae_mixture_noise")
    trainer.step()
    ref.aae_step("full")
    trainer.update_settings(lr_recon=3e-3, lr_disc=1e-3, lr_gen=5e-4)
    for opt, lr in ((ref.opt_ae, 3e-3), (ref.opt_d, 1e-3), (ref.opt_g, 5e-4)):
        for group in opt.param_groups:
            group["lr"] = lr
    for _ in range(2):
        trainer.step()
        ref.aae_step("full")
    assert_same_parameters(trainer, ref)


def test_the_tolerance_catches_a_stale_encoder_forward(digits):
    """The comparison can fail: feeding the discriminator the codes from before the reconstruction update
    (a tempting but wrong reuse of the phase-1 forward) is caught."""
    trainer, ref = build(digits, "aae_gaussian")
    ref.stale_codes = True
    trainer.step()
    ref.aae_step("full")
    with pytest.raises(AssertionError, match="differs from the reference"):
        assert_same_parameters(trainer, ref)


def test_the_direct_fused_update_is_torch_adams_own_step_bit_for_bit():
    """aae_core.adam calls the kernel Adam(fused=True).step runs: the same bits, live rate changes included; and
    it refuses the Adam variants it does not repeat."""
    import torch

    from aae_core.adam import FusedAdamUpdate
    from aae_core.models import mlp

    torch.manual_seed(0)
    nets = [mlp([6, 5, 1]) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    opts = [torch.optim.Adam(n.parameters(), lr=1e-2, betas=(0.5, 0.999), fused=True) for n in nets]
    direct = FusedAdamUpdate(opts[1])
    x = torch.randn(8, 6)
    for step in range(4):
        if step == 2:
            for opt in opts:
                opt.param_groups[0]["lr"] = 3e-3
        opts[0].zero_grad()
        nets[0](x).square().mean().backward()
        opts[0].step()
        direct.update(nets[1](x).square().mean())
        for a, b in zip(nets[0].parameters(), nets[1].parameters()):
            assert torch.equal(a, b)
    assert all(p.grad is None for p in nets[1].parameters())
    with pytest.raises(ValueError, match="amsgrad"):
        FusedAdamUpdate(torch.optim.Adam(nets[1].parameters(), fused=True, amsgrad=True))
