"""The paper's training loop written the straightforward way: separate forwards per phase, loss terms spelled out,
torch.distributions for the KL, the default for-loop Adam. It is the baseline the optimised `Trainer` must match
(tests/test_training_equivalence.py) and is measured against (`aae-bench`, the `*_plain` rows).

It draws its randomness in the order the Trainer documents: the batch permutation and noise from `gen` (seed),
label subsets from seed + 1, prior samples from `prior_gen` (seed + 2).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from .config import RunConfig
from .data import Dataset
from .models import AAE, AutoEncoderBase
from .priors import GaussianPrior, make_prior


class ReferenceLoop:
    """The paper's training loop, one minibatch at a time, with nothing shared between phases."""

    stale_codes = False  # True: a deliberately wrong variant (the tests show their comparison catches it)

    def __init__(self, config: RunConfig, data: Dataset, model: AutoEncoderBase):
        t, seed = config.train, config.train.seed
        self.config, self.data, self.model = config, data, copy.deepcopy(model)  # trains its own copy
        self.prior = make_prior(config.prior)
        self.gen = torch.Generator().manual_seed(seed)
        self.prior_gen = torch.Generator().manual_seed(seed + 2)
        n = data.x_train.shape[0]
        self.labelled = torch.rand(n, generator=torch.Generator().manual_seed(seed + 1)) < (t.label_fraction or 0.0)
        self.perm, self.pos = torch.randperm(n, generator=self.gen), 0
        m = self.model
        self.opt_ae = torch.optim.Adam([*m.encoder.parameters(), *m.decoder.parameters()], lr=t.lr_recon, foreach=False)
        if isinstance(m, AAE):
            self.opt_d = torch.optim.Adam(m.discriminator.parameters(), lr=t.lr_disc, betas=(0.5, 0.999), foreach=False)
            self.opt_g = torch.optim.Adam(m.encoder.parameters(), lr=t.lr_gen, betas=(0.5, 0.999), foreach=False)

    def step(self, phase: str = "full") -> None:
        """One minibatch: the AAE's phases (`full`, or one of `recon`, `disc`, `gen`), or the VAE's update."""
        self.aae_step(phase) if isinstance(self.model, AAE) else self.vae_step()

    def batch(self):
        b = self.config.train.batch_size
        if self.pos + b > len(self.perm):
            self.perm, self.pos = torch.randperm(len(self.perm), generator=self.gen), 0
        idx = self.perm[self.pos : self.pos + b]
        self.pos += b
        return self.data.x_train[idx], idx

    def recon_loss(self, x, logits):
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)

    def d_input(self, z, onehot):
        noise = self.config.train.disc_noise
        if noise > 0:
            z = z + noise * torch.randn(z.shape, generator=self.gen)
        return z if onehot is None else torch.cat([z, onehot], 1)

    def aae_step(self, phase: str) -> None:
        m, (x, idx) = self.model, self.batch()
        assert isinstance(m, AAE), "only an AAE has the adversarial phases"
        stale = m.encoder(x).detach() if self.stale_codes else None  # codes before the reconstruction update
        if phase in ("full", "recon"):
            loss = self.recon_loss(x, m.decoder(m.encoder(x)))
            self.opt_ae.zero_grad()
            loss.backward()
            self.opt_ae.step()
        if phase == "recon":
            return
        onehot, labels, k = None, None, self.config.model.n_label_classes
        if k:
            assert self.data.y_train is not None, "label conditioning is validated to need labels"
            y, known = self.data.y_train[idx], self.labelled[idx]
            onehot = F.one_hot(torch.where(known, y, torch.full_like(y, k)), k + 1).float()
            labels = torch.where(known, y, torch.randint(k, y.shape, generator=self.gen))
        if phase in ("full", "disc"):
            z_real = self.prior.sample(len(x), labels, self.prior_gen)
            z_fake = stale if self.stale_codes else m.encoder(x).detach()
            real, fake = m.discriminator(self.d_input(z_real, onehot)), m.discriminator(self.d_input(z_fake, onehot))
            loss = 0.5 * (
                F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
            )
            self.opt_d.zero_grad()
            loss.backward()
            self.opt_d.step()
        if phase in ("full", "gen"):
            fake = m.discriminator(self.d_input(m.encoder(x), onehot))
            loss = F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
            self.opt_g.zero_grad()
            loss.backward()
            self.opt_g.step()  # the discriminator's gradients from this loss are never applied

    def vae_step(self) -> None:
        m, (x, _) = self.model, self.batch()
        mu, logvar = m.encoder(x).chunk(2, dim=1)
        q = Normal(mu, (0.5 * logvar).exp())
        z = mu + q.scale * torch.randn(mu.shape, generator=self.gen)
        if isinstance(self.prior, GaussianPrior):
            s = self.config.prior.std
            kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.full_like(mu, s))).sum(1).mean()
        else:
            kl = (q.log_prob(z).sum(1) - self.prior.log_prob(z)).mean()
        loss = self.recon_loss(x, m.decoder(z)) + kl
        self.opt_ae.zero_grad()
        loss.backward()
        self.opt_ae.step()
