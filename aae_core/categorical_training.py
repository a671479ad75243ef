"""The training phases of the paper's categorical AAEs (sections 4-7), run by `Trainer.step` once per minibatch.

Per minibatch, as in section 5:
  1. reconstruction of x from (y, z): y the true one-hot label (supervised) or q(y|x) (the others); for dimred the
     decoder sees head(y) + z, and a cosine penalty keeps the cluster heads apart (section 7);
  2. regularization: the discriminators learn prior samples (N(0, std^2 I) for z, one-hot Cat(K) for y) against
     codes; then the encoder, as generator, learns to fool both;
  3. semisupervised only: a cross-entropy step of q(y|x) on a minibatch of the labelled images.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .config import TrainConfig
from .errors import AAEError
from .losses import recon_loss
from .models import CategoricalAAE
from .settings import CLUSTERING_KINDS

MAX_ERROR_POINTS = 500  # live test-error points kept; older ones are thinned, so memory stays bounded


def choose_labels(y: np.ndarray, n: int, n_classes: int, seed: int) -> np.ndarray:
    """Indices of n training images, class-balanced (n // K per class, the remainder to the first classes) and
    drawn with the seed: the only labels a semi-supervised run may use."""
    if n < n_classes:
        raise AAEError(f"labels={n}: needs at least one label per class ({n_classes} classes)")
    rng = np.random.default_rng(seed + 5)
    picked = []
    for c in range(n_classes):
        want = n // n_classes + (c < n % n_classes)
        members = np.flatnonzero(y == c)
        if len(members) < want:
            raise AAEError(f"labels={n}: class {c} has only {len(members)} training images, {want} are needed")
        picked.append(rng.choice(members, want, replace=False))
    return np.sort(np.concatenate(picked))


def head_penalty(heads: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity over every pair of cluster heads (columns of `heads`): lower keeps them apart."""
    unit = F.normalize(heads.T, dim=1)
    k = unit.shape[0]
    return ((unit @ unit.T).sum() - k) / (k * (k - 1))


class CategoricalPhases:
    """The optimizers and one step of a CategoricalAAE, on a Trainer's data, prior and generators."""

    def __init__(self, trainer, model: CategoricalAAE):
        self.trainer, self.model = trainer, model
        kind, data, seed = model.config.kind, trainer.data, trainer.config.train.seed
        self.y_train = data.y_train
        if kind not in CLUSTERING_KINDS:  # the label is the decoder's input, or the supervised phase's target
            if data.y_train is None or data.n_classes != model.config.n_categories:
                raise AAEError(
                    f"model={kind!r}: needs a labelled dataset with {model.config.n_categories} classes "
                    f"({data.name!r} has {data.n_classes if data.y_train is not None else 'no labels'})"
                )
        self.labelled: torch.Tensor | None = None
        if kind == "semisupervised":
            assert data.y_train is not None and trainer.config.train.n_labels is not None  # checked above, config
            chosen = choose_labels(data.y_train.cpu().numpy(), trainer.config.train.n_labels, data.n_classes, seed)
            self.labelled = torch.as_tensor(chosen, device=data.x_train.device)
        self.label_gen = torch.Generator(device=data.x_train.device).manual_seed(seed + 4)
        m = model
        recon = [*m.encoder.parameters(), *m.decoder.parameters(), *(m.heads.parameters() if m.summed else [])]
        discs = [*m.discriminator.parameters(), *(m.cat_discriminator.parameters() if m.infers_y else [])]
        self.opts = {  # each optimizer with the setting that is its base rate
            "recon": (torch.optim.Adam(recon, fused=True), "lr_recon"),
            "disc": (torch.optim.Adam(discs, betas=(0.5, 0.999), fused=True), "lr_disc"),
            "gen": (torch.optim.Adam(m.encoder.parameters(), betas=(0.5, 0.999), fused=True), "lr_gen"),
            "xent": (torch.optim.Adam(m.encoder.parameters(), fused=True), "lr_recon"),
        }
        self.set_rates(trainer.config.train, trainer.lr_factor)
        self.error_curve: list[tuple[int, float]] = []
        self._published: tuple[int, np.ndarray | None] = (-1, None)

    def set_rates(self, t: TrainConfig, factor: float) -> None:
        for opt, name in self.opts.values():
            for g in opt.param_groups:
                g["lr"] = getattr(t, name) * factor

    def _update(self, name: str, loss: torch.Tensor) -> torch.Tensor:
        opt = self.opts[name][0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    def _onehot(self, labels: torch.Tensor) -> torch.Tensor:
        return F.one_hot(labels, self.model.config.n_categories).float()

    def step(self, x: torch.Tensor, idx: torch.Tensor) -> list[torch.Tensor | float]:
        """One minibatch of every phase; returns [recon, d_loss, g_loss, d_acc, nan] as the Trainer records them."""
        m, t = self.model, self.trainer
        k = m.config.n_categories
        logits, z = m.split(x)
        if logits is None:
            assert self.y_train is not None  # __init__ refuses a supervised model on data without labels
            y = self._onehot(self.y_train[idx])
        else:
            y = logits.softmax(1)
        loss = recon_loss(x, m.decoder_logits(y, z))
        if m.summed:
            loss = loss + head_penalty(m.heads.weight)
        recon = self._update("recon", loss)

        # One encoder forward serves the discriminators and the generator: the discriminator update leaves the
        # encoder's weights as they are.
        logits, z = m.split(x)
        fakes = [(m.discriminator, z, t.prior.sample(len(x), None, t.prior_gen).to(x.device))]
        if logits is not None:
            onehots = self._onehot(torch.randint(k, (len(x),), generator=self.label_gen, device=x.device))
            fakes.append((m.cat_discriminator, logits.softmax(1), onehots))
        ones = torch.ones(len(x), 1, device=x.device)
        target = torch.cat([ones, torch.zeros_like(ones)])
        d_loss = torch.zeros((), device=x.device)
        hits = []
        for disc, fake, real in fakes:
            out = disc(torch.cat([t._disc_input(real, None), t._disc_input(fake.detach(), None)]))
            d_loss = d_loss + F.binary_cross_entropy_with_logits(out, target)
            hits.append(((out > 0).float() == target).float().mean())
        d_loss = self._update("disc", d_loss)
        d_acc = torch.stack(hits).mean()

        for disc, _, _ in fakes:  # fixed critics for the generator phase: no weight gradients
            disc.requires_grad_(False)
        fooled = [F.binary_cross_entropy_with_logits(disc(t._disc_input(fake, None)), ones) for disc, fake, _ in fakes]
        g_loss = self._update("gen", torch.stack(fooled).sum())
        for disc, _, _ in fakes:
            disc.requires_grad_(True)

        if self.labelled is not None and self.y_train is not None:
            b = min(len(x), len(self.labelled))
            pick = self.labelled[torch.randint(len(self.labelled), (b,), generator=self.label_gen, device=x.device)]
            logits, _ = m.split(t.data.x_train[pick])
            assert logits is not None
            self._update("xent", F.cross_entropy(logits, self.y_train[pick]))
        return [recon, d_loss, g_loss, d_acc, math.nan]

    @torch.no_grad()
    def published(self, step: int) -> dict:
        """What a Snapshot carries for this model: each held-out eval image's predicted class or cluster, and the
        held-out error over the run (classes: semisupervised; none for the others). Computed once per step."""
        m, t = self.model, self.trainer
        if not m.infers_y:
            return {}
        if self._published[0] != step:
            m.eval()
            predicted = torch.cat([m.classify(t.eval_x[i : i + 2000]).argmax(1) for i in range(0, len(t.eval_x), 2000)])
            predicted_np = predicted.cpu().numpy()
            if m.config.kind == "semisupervised" and t.eval_y is not None:
                self.error_curve.append((step, float((predicted_np != t.eval_y).mean())))
                if len(self.error_curve) > MAX_ERROR_POINTS:
                    self.error_curve = self.error_curve[::2]
            self._published = (step, predicted_np)
        return {"predicted": self._published[1], "error_curve": tuple(self.error_curve)}
