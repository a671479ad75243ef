"""Slow motion, as in GAN Lab: an AAE's training step taken apart into its three phases, run one at a time.

Each call runs one phase on a job (`Job.step(phase)`, on its worker, between two steps) and says in one sentence
what that phase did, with numbers read before and after it. `decision_surface` gives the discriminator's D(z)
over a square of the latent plane, the picture that shows what the generator phase pushes the codes towards.
Each phase draws its own minibatch (the Trainer's `step(phase)`), where a full step shares one among them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .config import AAEError
from .jobs import Job
from .models import AAE, AutoEncoderBase

PHASES = ("recon", "disc", "gen")  # the paper's order within a minibatch (section 2)
PHASE_NAMES = {"recon": "reconstruction", "disc": "discriminator", "gen": "generator"}


@dataclass(frozen=True)
class PhaseReport:
    """What one phase did: which phase, the step it ended at, and a sentence with its numbers."""

    phase: str
    step: int
    sentence: str


def next_phase(last: str | None) -> str:
    """The phase after `last` in PHASES, cycling; the first one when nothing ran yet."""
    return PHASES[(PHASES.index(last) + 1) % len(PHASES)] if last in PHASES else PHASES[0]


def _aae(model: AutoEncoderBase) -> AAE:
    if not isinstance(model, AAE):
        raise AAEError("slow motion: needs an AAE (only it has a discriminator and three phases)")
    return model


@torch.no_grad()
def realness(model: AutoEncoderBase, z: np.ndarray) -> np.ndarray:
    """D(z), the discriminator's probability that each code is a prior sample; a label-conditioned one is asked
    about the "unlabeled" class, whose real samples come from the whole prior."""
    m = _aae(model).eval()
    zt = torch.as_tensor(z, dtype=torch.float32)
    k = m.config.n_label_classes
    if k:
        unlabeled = torch.zeros(len(zt), k + 1)
        unlabeled[:, k] = 1.0
        zt = torch.cat([zt, unlabeled], 1)
    return torch.sigmoid(m.discriminator(zt)).squeeze(1).numpy().astype(np.float64)


def decision_surface(model: AutoEncoderBase, lim: float, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(grid coordinates (n,), D(z) on the n x n grid over [-lim, lim]^2, rows along z2) of a 2-D AAE."""
    if _aae(model).config.latent_dim != 2:
        raise AAEError("decision surface: D(z) can be drawn over the latent plane only for 2-D codes")
    xs = np.linspace(-lim, lim, n)
    grid = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)
    return xs, realness(model, grid).reshape(n, n)


def run_phase(job: Job, phase: str) -> PhaseReport:
    """Run one phase of an AAE job (pausing it first) and say what happened."""
    if phase not in PHASES:
        raise AAEError(f"phase={phase!r}: must be one of {', '.join(PHASES)}")
    if job.kind != "aae":
        raise AAEError(f"slow motion: {job.name} is a {job.kind.upper()}, which has no discriminator phases")
    before = job.pause()  # publishes the codes of this very step, so "before" is exact
    snap = job.step(phase)
    _, model = job.frozen_model()
    last = {k: float(v[-1]) for k, v in snap.history.items() if k != "step" and len(v)}
    codes0, codes1 = before.codes, snap.codes
    assert codes0 is not None and codes1 is not None  # a Trainer publishes codes from its first snapshot on
    batch = job.config.train.batch_size
    if phase == "recon":
        moved = float(np.linalg.norm(codes1 - codes0, axis=1).mean())
        sentence = (
            f"Reconstruction: the encoder and decoder took one step on {batch} images, to redraw each from its "
            f"code; the loss is {last['recon']:.1f} nats per image, and held-out codes moved {moved:.3f} on average."
        )
    elif phase == "disc":
        sentence = (
            f"Discriminator: it took one step telling {batch} prior samples (real) from {batch} codes (fake) and "
            f"now gets {last['d_acc']:.0%} of that batch right (loss {last['d_loss']:.3f}); held-out codes look "
            f"real to it with probability {realness(model, codes1).mean():.2f} on average."
        )
    else:
        # The generator phase changes only the encoder: the same D rates the codes before and after it.
        p0, p1 = realness(model, codes0).mean(), realness(model, codes1).mean()
        sentence = (
            f"Generator: the encoder took one step to make its codes look like prior samples; the discriminator "
            f"now rates held-out codes real with probability {p1:.2f} on average (it was {p0:.2f})."
        )
    return PhaseReport(phase, snap.step, sentence)
