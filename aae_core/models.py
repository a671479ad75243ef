"""The networks: plain ReLU MLPs, as in the paper's Appendix A.

Both models share the same encoder trunk and decoder, so an AAE-vs-VAE comparison differs only in
how q(z) is regularised. The decoder ends in a sigmoid (pixels in [0, 1]); training uses its
logits for a numerically stable cross-entropy. The discriminator has no BatchNorm, as in Appendix A: a
BatchNorm discriminator is a commonly reported reason for public AAE code stalling at 50 % discriminator
accuracy. The `disc_batchnorm` option adds it anyway, so that failure can be shown (aae_core.health).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .errors import AAEError
from .settings import CATEGORICAL_KINDS


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

    decodes_codes = True  # decode() takes a latent_dim code alone (a prior sample), as the views and metrics use it

    def __init__(self, config: ModelConfig, encoder_out: int, decoder_in: int | None = None):
        super().__init__()
        self.config = config  # checked by build_model, the one way to build a model
        c = config
        self.encoder = mlp([c.input_dim, *c.hidden, encoder_out])
        self.decoder = mlp([decoder_in or c.latent_dim, *reversed(c.hidden), c.input_dim])  # outputs logits

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of each row of x: deterministic (the VAE's posterior mean)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], flattened, for codes z."""
        return torch.sigmoid(self.decoder(z))

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images decoded from the codes of x; `y`, the labels of x, is what a supervised AAE's decoder also needs."""
        return self.decode(self.encode(x))


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


class CategoricalAAE(AutoEncoderBase):
    """The paper's sections 4-7: a style code z regularized to a Gaussian beside a categorical y over K classes or
    clusters. `supervised`: y is the true label, given to the decoder. The others infer y with a softmax head q(y|x)
    regularized to Cat(K) by a second discriminator; `dimred` decodes (and shows) the sum of y's learned cluster
    head and z, a 2-D code (section 7). Training: aae_core.categorical_training."""

    decodes_codes = False  # the decoder needs y too: decode_pairs

    def __init__(self, config: ModelConfig):
        c, k = config, config.n_categories
        self.infers_y = c.kind != "supervised"
        self.summed = c.kind == "dimred"
        super().__init__(c, c.latent_dim + (k if self.infers_y else 0), c.latent_dim + (0 if self.summed else k))
        self.discriminator = mlp([c.latent_dim, *c.disc_hidden, 1])  # on z, against the Gaussian prior
        if self.infers_y:
            self.cat_discriminator = mlp([k, *c.disc_hidden, 1])  # on q(y|x), against one-hot samples of Cat(K)
        if self.summed:
            self.heads = nn.Linear(k, c.latent_dim, bias=False)  # the cluster heads: one column per cluster

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(logits of q(y|x), or None for the supervised AAE; the style code z) of images x."""
        out = self.encoder(x)
        d = self.config.latent_dim
        return (out[:, d:] if self.infers_y else None), out[:, :d]

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """q(y|x): the probability of each class or cluster, one row per image."""
        logits, _ = self.split(x)
        if logits is None:
            raise AAEError("model 'supervised': has no q(y|x); its labels are given")
        return logits.softmax(1)

    def decoder_logits(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits from (y, one-hot or soft; z)."""
        return self.decoder(self.heads(y) + z if self.summed else torch.cat([y, z], 1))

    def decode_pairs(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] decoded from (y, z) row by row."""
        return torch.sigmoid(self.decoder_logits(y, z))

    def encode(self, x):
        """The code shown and scored: the style z, or for dimred the 2-D sum of cluster head and style."""
        logits, z = self.split(x)
        return self.heads(logits.softmax(1)) + z if self.summed and logits is not None else z

    def decode(self, z):
        if not self.summed:
            raise AAEError(f"model {self.config.kind!r}: its decoder needs y beside z (decode_pairs)")
        return torch.sigmoid(self.decoder(z))

    def reconstruct(self, x, y=None):
        logits, z = self.split(x)
        if logits is None:
            if y is None:
                raise AAEError("model 'supervised': reconstructing needs the images' labels")
            return self.decode_pairs(F.one_hot(y, self.config.n_categories).float(), z)
        return self.decode_pairs(logits.softmax(1), z)


Model = AAE | VAE | PlainAE | CategoricalAAE


def build_model(config: ModelConfig) -> Model:
    """The model a config names."""
    config.validate()
    if config.kind in CATEGORICAL_KINDS:
        return CategoricalAAE(config)
    classes: dict[str, type[AAE] | type[VAE] | type[PlainAE]] = {"aae": AAE, "vae": VAE, "ae": PlainAE}
    return classes[config.kind](config)
