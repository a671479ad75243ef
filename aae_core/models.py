"""The networks: plain ReLU MLPs, as in the paper's Appendix A.

Both models share the same encoder trunk and decoder, so an AAE-vs-VAE comparison differs only in
how q(z) is regularised. The decoder ends in a sigmoid (pixels in [0, 1]); training uses its
logits for a numerically stable cross-entropy. The discriminator has no BatchNorm, as in Appendix A: a
BatchNorm discriminator is a commonly reported reason for public AAE code stalling at 50 % discriminator
accuracy. The `disc_batchnorm` option adds it anyway, so that failure can be shown (aae_core.health).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig


def mlp(sizes: list[int], batchnorm: bool = False) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (after a BatchNorm, if asked) and a linear output."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.extend([nn.BatchNorm1d(b), nn.ReLU()] if batchnorm else [nn.ReLU()])
    return nn.Sequential(*layers)


class AutoEncoderBase(nn.Module):
    """What AAE and VAE share: the decoder, and `encode`/`decode` used by metrics, views and the pad."""

    def __init__(self, config: ModelConfig, encoder_out: int):
        super().__init__()
        self.config = config  # checked by build_model, the one way to build a model
        c = config
        self.encoder = mlp([c.input_dim, *c.hidden, encoder_out])
        self.decoder = mlp([c.latent_dim, *reversed(c.hidden), c.input_dim])  # outputs logits

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of each row of x: deterministic (the VAE's posterior mean)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], flattened, for codes z."""
        return torch.sigmoid(self.decoder(z))


class AAE(AutoEncoderBase):
    """Deterministic encoder, decoder, and a discriminator on codes (optionally code + one-hot label)."""

    def __init__(self, config: ModelConfig):
        super().__init__(config, config.latent_dim)
        extra = config.n_label_classes + 1 if config.n_label_classes else 0
        self.discriminator = mlp(  # outputs a logit
            [config.latent_dim + extra, *config.disc_hidden, 1], batchnorm=config.disc_batchnorm
        )

    def encode(self, x):
        return self.encoder(x)


class PlainAE(AutoEncoderBase):
    """A plain autoencoder: the AAE's encoder and decoder with no regularizer, so nothing shapes its codes.
    The baseline: it keeps class structure, but its codes follow no prior, so prior samples decode to garbage."""

    def __init__(self, config: ModelConfig):
        super().__init__(config, config.latent_dim)

    def encode(self, x):
        return self.encoder(x)


class VAE(AutoEncoderBase):
    """Gaussian encoder q(z|x) = N(mu, diag(exp(logvar))) on the same trunk as the AAE's."""

    def __init__(self, config: ModelConfig):
        super().__init__(config, 2 * config.latent_dim)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x):
        return self.posterior(x)[0]


def build_model(config: ModelConfig) -> AAE | VAE | PlainAE:
    """The model a config names."""
    classes: dict[str, type[AAE] | type[VAE] | type[PlainAE]] = {"aae": AAE, "vae": VAE, "ae": PlainAE}
    return classes[config.validate().kind](config)
