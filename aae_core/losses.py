"""The training losses: reconstruction as a Bernoulli likelihood, and the VAE's KL term.

AAE, VAE and plain autoencoder share the reconstruction cost; the KL term is closed-form for a Gaussian prior
and a one-sample Monte-Carlo estimate for any prior that only has a log_prob (aae_core.training picks).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .priors import Prior


def recon_loss(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood per image (summed over pixels, averaged over the batch)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


def kl_gaussian(mu: torch.Tensor, logvar: torch.Tensor, prior_std: float) -> torch.Tensor:
    """Closed-form KL(N(mu, exp(logvar)) || N(0, prior_std^2 I)), summed over dims, averaged over the batch."""
    s2 = prior_std**2
    return 0.5 * ((logvar.exp() + mu.pow(2)) / s2 - 1 - logvar + math.log(s2)).sum(1).mean()


def kl_monte_carlo(mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor, prior: Prior) -> torch.Tensor:
    """One-sample estimate log q(z|x) - log p(z) at z ~ q(z|x), averaged over the batch: all a prior
    with only a log_prob (the mixture, the approximate swiss roll) allows."""
    log_q = (-0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi))).sum(1)
    return (log_q - prior.log_prob(z)).mean()
