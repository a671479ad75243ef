"""The training-health detectors (aae_core.health) on made-up histories and codes, each on both sides of its line,
and the discriminator's BatchNorm option they are shown with."""

import math

import numpy as np
import pytest
import torch

from aae_core import health
from aae_core.config import AAEError, PriorConfig, build_run_config
from aae_core.models import build_model
from aae_core.priors import make_prior

GAUSSIAN = make_prior(PriorConfig(name="gaussian", dim=2, std=5.0))


def history(steps: int = 400, **curves) -> dict[str, np.ndarray]:
    """A loss history of `steps` steps: each named curve as given (a number, or an array), the rest NaN."""
    out = {k: np.full(steps, np.nan) for k in ("recon", "d_loss", "g_loss", "d_acc", "kl")}
    for k, v in curves.items():
        out[k] = np.broadcast_to(np.asarray(v, dtype=np.float64), (steps,)).copy()
    out["step"] = np.arange(1, steps + 1)
    return out


def prior_codes(scale: float = 1.0, n: int = 500, seed: int = 3) -> np.ndarray:
    return GAUSSIAN.sample(n, generator=torch.Generator().manual_seed(seed)).numpy() * scale


def test_code_spread_reads_scale_and_offset():
    assert health.code_spread(prior_codes(), GAUSSIAN) == pytest.approx(1.0, abs=0.08)
    assert health.code_spread(prior_codes(3.0), GAUSSIAN) == pytest.approx(3.0, rel=0.08)
    assert health.code_spread(prior_codes(0.01), GAUSSIAN) < 0.05, "piled up near the prior's centre"
    off_centre = prior_codes(0.1) + np.array([15.0, 0.0])
    assert health.code_spread(off_centre, GAUSSIAN) > 2.0


def test_discriminator_winning_needs_high_accuracy_and_a_rising_or_high_generator_loss():
    rising = np.linspace(1.0, 3.0, 400)
    found = health.discriminator_winning(history(d_acc=0.97, g_loss=rising))
    assert found is not None and found.name == "disc_winning"
    assert "97%" in found.message and "rising from" in found.message and "learning rate" in found.suggestion
    high = health.discriminator_winning(history(d_acc=0.95, g_loss=np.linspace(4.0, 3.5, 400)))
    assert high is not None and "at 3." in high.message
    assert health.discriminator_winning(history(d_acc=0.6, g_loss=rising)) is None, "a fair game"
    falling_low = np.linspace(2.0, 1.0, 400)
    assert health.discriminator_winning(history(d_acc=0.95, g_loss=falling_low)) is None, "the generator catches up"
    assert health.discriminator_winning(history(100, d_acc=0.99, g_loss=5.0)) is None, "not for a while yet"


def test_discriminator_winning_reads_only_the_steps_its_phase_ran():
    # Slow motion runs one phase per step: the other phases' steps hold NaN and must not dilute the window.
    acc = np.where(np.arange(900) % 3 == 1, 0.96, np.nan)
    g = np.where(np.arange(900) % 3 == 2, np.linspace(1, 4, 900), np.nan)
    assert health.discriminator_winning(history(900, d_acc=acc, g_loss=g)) is not None


def test_drifting_needs_wide_codes_far_from_the_prior():
    found = health.drifting(prior_codes(4.0), GAUSSIAN)
    assert found is not None and found.name == "drift"
    assert "4.0x as wide" in found.message or "3.9x as wide" in found.message or "4.1x as wide" in found.message
    assert health.drifting(prior_codes(), GAUSSIAN) is None, "codes on the prior"
    assert health.drifting(prior_codes(1.5), GAUSSIAN) is None, "a little wide is not drifting"
    assert health.drifting(prior_codes(0.1), GAUSSIAN) is None, "piled up is not spread out"


def test_collapse_needs_a_tiny_kl_and_piled_up_codes():
    piled = prior_codes(0.01)
    found = health.collapsed(history(kl=0.01), piled, GAUSSIAN)
    assert found is not None and found.name == "collapse" and "0.010 nats" in found.message
    assert health.collapsed(history(kl=5.0), piled, GAUSSIAN) is None, "the codes carry information"
    assert health.collapsed(history(kl=0.01), prior_codes(), GAUSSIAN) is None, "codes still spread over the prior"
    assert health.collapsed(history(kl=math.log(2) + 0.01), piled, GAUSSIAN) is None, "a bit or more is no collapse"


def test_diagnose_routes_by_model_kind_and_waits_for_min_steps():
    winning = history(d_acc=0.99, g_loss=np.linspace(1.0, 5.0, 400), kl=0.01)
    wide, piled = prior_codes(5.0), prior_codes(0.01)
    assert [f.name for f in health.diagnose("aae", winning, wide, GAUSSIAN)] == ["disc_winning", "drift"]
    assert [f.name for f in health.diagnose("vae", winning, piled, GAUSSIAN)] == ["collapse"]
    assert health.diagnose("ae", winning, wide, GAUSSIAN) == [], "a plain autoencoder has no prior to miss"
    early = {k: v[: health.MIN_STEPS - 1] for k, v in winning.items()}
    assert health.diagnose("aae", early, wide, GAUSSIAN) == []
    assert health.diagnose("aae", winning, None, GAUSSIAN) == []
    assert health.diagnose("aae", winning, np.full((10, 2), np.nan), GAUSSIAN) == [], "divergence is told elsewhere"
    line = health.diagnose("vae", winning, piled, GAUSSIAN)[0].line()
    assert line.count(". ") == 1 and "\n" not in line, "one line: what, then what to try"


def test_disc_batchnorm_builds_a_batchnorm_discriminator_for_an_aae_only():
    plain = build_model(build_run_config(model="aae").model)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.discriminator.modules())
    bn = build_model(build_run_config(model="aae", disc_batchnorm=True).model)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in bn.discriminator.modules()) == 2, "one per hidden layer"
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in bn.encoder.modules()), "only the discriminator"
    with pytest.raises(AAEError, match="disc_batchnorm=True: needs a discriminator"):
        build_run_config(model="vae", disc_batchnorm=True)
