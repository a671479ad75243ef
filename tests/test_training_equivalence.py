"""The optimised Trainer computes exactly the paper's loop: each step matches a plain reference.

The reference below is written the straightforward way (separate forwards per phase, loss terms spelled
out, torch.distributions for the KL, the default for-loop Adam). It draws its randomness in the order the
Trainer documents: the batch permutation and noise from `gen` (seed), label subsets from seed + 1, prior
samples from `prior_gen` (seed + 2). Any speed-up in the Trainer must leave the parameters it produces
equal to these, up to float rounding.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from aae_core.config import build_run_config
from aae_core.priors import GaussianPrior, make_prior
from aae_core.training import Trainer

STEPS = 3
ATOL = 5e-5   # fused-Adam rounding after a few steps reaches ~2e-5 at lr_recon=2e-3; one wrong update moves weights by ~lr (>= 2e-4)


class Reference:
    """The paper's training loop, one minibatch at a time, with nothing shared between phases."""

    stale_codes = False   # True: a deliberately wrong variant, to show the comparison can fail

    def __init__(self, config, data, model):
        t, seed = config.train, config.train.seed
        self.config, self.data, self.model = config, data, copy.deepcopy(model)
        self.prior = make_prior(config.prior)
        self.gen = torch.Generator().manual_seed(seed)
        self.prior_gen = torch.Generator().manual_seed(seed + 2)
        n = data.x_train.shape[0]
        self.labelled = torch.rand(n, generator=torch.Generator().manual_seed(seed + 1)) < (t.label_fraction or 0.0)
        self.perm, self.pos = torch.randperm(n, generator=self.gen), 0
        m = self.model
        self.opt_ae = torch.optim.Adam([*m.encoder.parameters(), *m.decoder.parameters()], lr=t.lr_recon,
                                       foreach=False)
        if config.model.kind == "aae":
            self.opt_d = torch.optim.Adam(m.discriminator.parameters(), lr=t.lr_disc, betas=(0.5, 0.999), foreach=False)
            self.opt_g = torch.optim.Adam(m.encoder.parameters(), lr=t.lr_gen, betas=(0.5, 0.999), foreach=False)

    def batch(self):
        b = self.config.train.batch_size
        if self.pos + b > len(self.perm):
            self.perm, self.pos = torch.randperm(len(self.perm), generator=self.gen), 0
        idx = self.perm[self.pos:self.pos + b]
        self.pos += b
        return self.data.x_train[idx], idx

    def recon_loss(self, x, logits):
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)

    def d_input(self, z, onehot):
        noise = self.config.train.disc_noise
        if noise > 0:
            z = z + noise * torch.randn(z.shape, generator=self.gen)
        return z if onehot is None else torch.cat([z, onehot], 1)

    def aae_step(self, phase):
        m, (x, idx) = self.model, self.batch()
        stale = m.encoder(x).detach() if self.stale_codes else None   # codes before the reconstruction update
        if phase in ("full", "recon"):
            loss = self.recon_loss(x, m.decoder(m.encoder(x)))
            self.opt_ae.zero_grad()
            loss.backward()
            self.opt_ae.step()
        if phase == "recon":
            return
        onehot, labels, k = None, None, self.config.model.n_label_classes
        if k:
            y, known = self.data.y_train[idx], self.labelled[idx]
            onehot = F.one_hot(torch.where(known, y, torch.full_like(y, k)), k + 1).float()
            labels = torch.where(known, y, torch.randint(k, y.shape, generator=self.gen))
        if phase in ("full", "disc"):
            z_real = self.prior.sample(len(x), labels, self.prior_gen)
            z_fake = stale if self.stale_codes else m.encoder(x).detach()
            real, fake = m.discriminator(self.d_input(z_real, onehot)), m.discriminator(self.d_input(z_fake, onehot))
            loss = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                          + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
            self.opt_d.zero_grad()
            loss.backward()
            self.opt_d.step()
        if phase in ("full", "gen"):
            fake = m.discriminator(self.d_input(m.encoder(x), onehot))
            loss = F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
            self.opt_g.zero_grad()
            loss.backward()
            self.opt_g.step()   # the discriminator's gradients from this loss are never applied

    def vae_step(self):
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


def assert_same_parameters(trainer, ref):
    for (name, got), want in zip(trainer.model.named_parameters(), ref.model.parameters()):
        err = (got - want).abs().max().item()
        assert err <= ATOL, f"{name}: differs from the reference by {err:.3g}"


CASES = {
    "aae_gaussian": dict(model="aae", prior="gaussian"),
    "aae_mixture_noise": dict(model="aae", prior="mixture", disc_noise=0.3),
    "aae_conditioned_noise": dict(model="aae", prior="mixture", label_conditioned=True, label_fraction=0.5,
                                  disc_noise=0.2),
    "aae_swissroll_conditioned": dict(model="aae", prior="swissroll", label_conditioned=True, label_fraction=1.0),
    "vae_gaussian": dict(model="vae", prior="gaussian", prior_params={"std": 2.0}),
    "vae_mixture": dict(model="vae", prior="mixture"),
}


def build(data, case, **extra):
    config = build_run_config(input_dim=data.input_dim, batch_size=64, seed=5, **CASES[case], **extra)
    trainer = Trainer(config, data, publish_every_s=float("inf"))
    return trainer, Reference(config, data, trainer.model)


@pytest.mark.parametrize("case", CASES)
def test_full_steps_match_the_reference(digits, case):
    trainer, ref = build(digits, case)
    for _ in range(STEPS):
        trainer.step()
        ref.aae_step("full") if trainer.is_aae else ref.vae_step()
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
