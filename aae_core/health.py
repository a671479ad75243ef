"""Training health: what is going wrong, named in one line with what to try. Pure functions, no Streamlit.

Three failures are read from a run's loss history (a Trainer's `snapshot().history`) and its held-out codes
against the prior:
  * the discriminator winning: it tells codes from prior samples almost always, for a while, and the
    generator's loss rises (or stays high), so the encoder gets no useful signal;
  * codes drifting off the prior: the prior-match MMD far above its noise floor (aae_core.metrics) while the
    codes spread much wider than the prior;
  * VAE posterior collapse: the KL term near 0 (the codes say almost nothing about their image) and the codes
    piled together.
Measured on mnist5k (256-256, seed 0; steps 200/400/800/1600): the recipe's AAE stays at discriminator accuracy
0.78/0.62/0.58/0.56, spread 0.8-1.0 and MMD^2 22/4.6/2.9/2.3x its floor, its VAE at KL 3.0-5.9 nats: nothing fires.
Adversarial rates of 2e-2: accuracy 0.96-0.99, generator loss ~4. Prior sigma 0.1: accuracy 0.92-0.98, generator
loss 2.3 -> 43, spread 9-18x, MMD^2 113-138x. BatchNorm in the discriminator: spread 0.75/0.98/2.6/6.5 at MMD^2
55/54/42/21x. On digits a VAE at reconstruction rate 2e-2: KL 0.0019 nats by step 400, spread 0.03.
Divergence is detected where it happens, in the trainer (aae_core.training.TrainingDiverged); the app shows its
one line the same way as these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from .metrics import prior_match
from .priors import Prior

WINDOW = 200  # "for a while": the last steps a loss verdict reads
MIN_STEPS = 200  # no verdict before this: an untrained autoencoder's codes match no prior yet
WINNING_ACCURACY = 0.9
WINNING_G_LOSS = math.log(10)  # -log D(z) on codes: the discriminator gives them under a 10 % chance of being real
DRIFT_MMD_RATIO = 10.0  # the prior-match MMD^2 as a multiple of its floor (a trained recipe run: 2-3x)
DRIFT_SPREAD = 2.0  # code spread over the prior's
COLLAPSE_KL = math.log(2)  # nats per image: below one bit, a code cannot even tell two kinds of image apart
COLLAPSE_SPREAD = 0.2
SPREAD_SAMPLES = 2000  # prior samples behind its centre and spread: the centre then sits within ~2 % of its spread
N_CODES = 500  # held-out codes the code-based verdicts use: enough for MMD against its floor, cheap per refresh


@dataclass(frozen=True)
class Finding:
    """One health problem: `name` (a key: "disc_winning", "drift", "collapse"), what is seen, with its numbers,
    and what to try."""

    name: str
    message: str
    suggestion: str

    def line(self) -> str:
        return f"{self.message}. {self.suggestion}"


def _recent(history: Mapping[str, np.ndarray], key: str) -> np.ndarray:
    """The last WINDOW finite values of one loss (phases that did not run leave NaN)."""
    values = np.asarray(history.get(key, []), dtype=np.float64)
    return values[np.isfinite(values)][-WINDOW:]


def code_spread(codes: np.ndarray, prior: Prior, seed: int = 0) -> float:
    """Root-mean-square distance of the codes from the prior's mean, over that of prior samples: 1 for a match,
    above 1 for codes spread wider or sitting off-centre, near 0 for codes piled on one point."""
    n = max(len(codes), SPREAD_SAMPLES)
    samples = prior.sample(n, generator=torch.Generator().manual_seed(seed)).numpy().astype(np.float64)
    centre = samples.mean(0)
    own = np.sqrt(((samples - centre) ** 2).sum(1).mean())
    return float(np.sqrt(((codes.astype(np.float64) - centre) ** 2).sum(1).mean()) / max(own, 1e-12))


def discriminator_winning(history: Mapping[str, np.ndarray]) -> Finding | None:
    """The discriminator right WINNING_ACCURACY of the time over the last WINDOW steps, while the generator's
    loss rose over them or stayed above WINNING_G_LOSS."""
    acc, g = _recent(history, "d_acc"), _recent(history, "g_loss")
    if len(acc) < WINDOW or len(g) < WINDOW or acc.mean() < WINNING_ACCURACY:
        return None
    half = len(g) // 2
    rising = g[half:].mean() > g[:half].mean()
    if not rising and g.mean() < WINNING_G_LOSS:
        return None
    trend = f"rising from {g[:half].mean():.2f} to {g[half:].mean():.2f}" if rising else f"at {g.mean():.2f}"
    return Finding(
        "disc_winning",
        f"The discriminator is winning: {acc.mean():.0%} accuracy over the last {len(acc)} steps, the generator's "
        f"loss {trend}",
        "Slow it down: lower the discriminator's learning rate (the recipe's is 2e-4), or add input noise",
    )


def drifting(codes: np.ndarray, prior: Prior, seed: int = 0) -> Finding | None:
    """Codes far from the prior (MMD^2 at least DRIFT_MMD_RATIO x its floor) and spread at least DRIFT_SPREAD x
    as wide as it."""
    codes = codes[:N_CODES]
    spread = code_spread(codes, prior, seed)
    if spread < DRIFT_SPREAD:
        return None
    ratio = prior_match(codes, prior, seed)["prior_mmd_ratio"]
    if ratio < DRIFT_MMD_RATIO:
        return None
    return Finding(
        "drift",
        f"Codes are drifting off the prior: they spread {spread:.1f}x as wide as it, and its match (MMD²) is "
        f"{ratio:.0f}x its noise floor",
        "Bring the prior's scale near the codes' natural one (σ 5 here), and keep BatchNorm out of the discriminator",
    )


def collapsed(history: Mapping[str, np.ndarray], codes: np.ndarray, prior: Prior, seed: int = 0) -> Finding | None:
    """A VAE whose KL term averaged under COLLAPSE_KL over the last WINDOW steps, with its codes piled within
    COLLAPSE_SPREAD of the prior's spread."""
    kl = _recent(history, "kl")
    if len(kl) < WINDOW or kl.mean() >= COLLAPSE_KL:
        return None
    spread = code_spread(codes[:N_CODES], prior, seed)
    if spread >= COLLAPSE_SPREAD:
        return None
    return Finding(
        "collapse",
        f"Posterior collapse: the KL term is {kl.mean():.3f} nats per image and the codes pile up within "
        f"{spread:.2f}x the prior's spread, so the decoder ignores them",
        "Lower the learning rate, or use a prior scale nearer the codes' (the KL weighs more on small images)",
    )


def diagnose(
    kind: str, history: Mapping[str, np.ndarray], codes: np.ndarray | None, prior: Prior, seed: int = 0
) -> list[Finding]:
    """Every health problem a model of this kind ("aae", "vae", "ae") shows: none before MIN_STEPS steps."""
    steps = np.asarray(history.get("step", []))
    if codes is None or not len(steps) or steps[-1] < MIN_STEPS or not np.isfinite(codes).all():
        return []
    found: list[Finding | None] = []
    if kind == "aae":
        found += [discriminator_winning(history), drifting(codes, prior, seed)]
    if kind == "vae":
        found.append(collapsed(history, codes, prior, seed))
    return [f for f in found if f is not None]
