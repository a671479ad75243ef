"""The step-wise trainer: one minibatch at a time, for an AAE (the paper's two phases) or a VAE.

AAE step (Makhzani et al., section 2), per minibatch:
  1. reconstruction: update encoder + decoder on reconstruction error;
  2. regularization: update the discriminator (prior samples "real", codes "fake"),
     then the encoder, as generator, to make its codes look real.
VAE step: reconstruction + KL(q(z|x) || p(z)), closed form for a Gaussian prior, else a
one-sample Monte-Carlo estimate through the prior's log_prob (the losses: aae_core.losses).
Plain autoencoder (the baseline, no regularizer): the reconstruction phase alone.
Every learning rate follows the config's step schedule (`TrainConfig.lr_factor`).

Other threads read `snapshot()`: an immutable object (aae_core.snapshot) the trainer republishes every
`publish_every_s`, so readers never block training and never see a half-updated state.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import torch
import torch.nn.functional as F

from .adam import FusedAdamUpdate
from .categorical_training import CategoricalPhases
from .config import AAEError, RunConfig, TrainConfig
from .data import Dataset
from .losses import kl_gaussian, kl_monte_carlo, recon_loss
from .models import AAE, VAE, AutoEncoderBase, CategoricalAAE, build_model
from .priors import GaussianPrior, make_prior
from .snapshot import HISTORY_KEYS, CodeTimeline, LossHistory, Snapshot

AAE_PHASES = ("full", "recon", "disc", "gen")
MAX_TIMELINE = 40  # code snapshots kept for the timeline; older ones are thinned, so memory stays bounded


class TrainingDiverged(AAEError):
    """A loss became NaN or inf; the last good weights have been restored."""


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without one is a clear error."""
    if device not in ("auto", "cpu", "cuda"):
        raise AAEError(f"device={device!r}: must be auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise AAEError(
            "device='cuda': this torch build sees no CUDA device (install a CUDA build of torch, see README)"
        )
    return torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")


class Trainer:
    """Trains one AAE or VAE step by step; see the module docstring for the math."""

    def __init__(
        self,
        config: RunConfig,
        data: Dataset,
        device: str = "cpu",
        publish_every_s: float = 0.5,
        model: AutoEncoderBase | None = None,
        start_step: int = 0,
    ):
        # The config was validated when it was built (build_run_config, RunConfig.from_dict); what is left to check
        # is how it meets this dataset.
        config.train.fits(data.x_train.shape[0])
        if config.model.input_dim != data.input_dim:
            raise AAEError(
                f"input_dim={config.model.input_dim}: the dataset {data.name!r} has {data.input_dim} pixels per image"
            )
        self.config = config
        self.device = resolve_device(device)
        self.data = data.hold_out(config.train.holdout)[0].to(self.device)
        self.prior = make_prior(config.prior)
        self.conditioned = config.model.n_label_classes > 0
        if self.conditioned and (
            data.y_train is None
            or self.prior.n_parts != data.n_classes
            or config.model.n_label_classes != data.n_classes
        ):
            raise AAEError(
                f"label_conditioned: the prior has {self.prior.n_parts} parts and the dataset "
                f"{data.n_classes} classes; they must match (and the data must have labels)"
            )
        seed = config.train.seed
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self.prior_gen = torch.Generator().manual_seed(seed + 2)  # priors sample on the CPU
        if model is None:
            with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's global RNG
                torch.manual_seed(seed)
                model = build_model(config.model)
        self.model: AutoEncoderBase = model.to(self.device)  # nn.Module.to moves it in place, returns it
        self.is_aae = isinstance(model, AAE)
        n = self.data.x_train.shape[0]
        self.steps_per_epoch = n / config.train.batch_size
        self.step_count = start_step
        self._build_optimizers(config.train)
        self.categorical = CategoricalPhases(self, model) if isinstance(model, CategoricalAAE) else None
        # Which training labels the conditioned discriminator may see: a fixed, seeded subset.
        keep = torch.rand(n, generator=torch.Generator().manual_seed(seed + 1)) < (config.train.label_fraction or 0.0)
        self.labelled = keep.to(self.device)
        self.eval_x = self.data.x_test[: config.train.n_eval_codes]
        self.eval_y = None if data.y_test is None else data.y_test[: config.train.n_eval_codes].cpu().numpy()
        self.samples_seen = start_step * config.train.batch_size
        self._perm = torch.randperm(n, generator=self.gen, device=self.device)
        self._pos = 0
        # The adversarial targets, made once: every minibatch has batch_size rows (_next_batch).
        ones = torch.ones(config.train.batch_size, 1, device=self.device)
        self._ones, self._real_then_fake = ones, torch.cat([ones, torch.zeros_like(ones)])
        self._history = LossHistory(config.train.history_len)
        self._pending: dict = {}
        self._pending_lock = threading.Lock()
        self._timeline = CodeTimeline(MAX_TIMELINE)
        self.publish_every_s = publish_every_s
        self._last_publish = (time.perf_counter(), self.samples_seen)
        self._last_good = self._copy_weights()
        self.error: str | None = None
        self.last_losses: dict[str, float] = dict.fromkeys(HISTORY_KEYS, math.nan)
        self._snapshot = Snapshot()
        self.publish(force_codes=True)

    # ---- settings that may change while training -------------------------------------------

    def _build_optimizers(self, t: TrainConfig) -> None:
        m = self.model
        self.lr_factor = t.lr_factor(self.step_count, self.steps_per_epoch)
        ae_params = list(m.encoder.parameters()) + list(m.decoder.parameters())
        # fused=True: one kernel updates each parameter in a single pass over its memory, where the default
        # CPU Adam makes ~10 elementwise passes per tensor. Same Adam math, to float rounding
        # (tests/test_training_equivalence.py); the optimizer was ~30 % of the paper-size AAE step before.
        # Each update calls that kernel directly (aae_core.adam): the optimizers hold the state and the rates.
        f = self.lr_factor
        self.opt_recon = torch.optim.Adam(ae_params, lr=t.lr_recon * f, fused=True)
        self._recon = FusedAdamUpdate(self.opt_recon)
        if isinstance(m, AAE):  # = self.is_aae; isinstance narrows the model for mypy
            # beta1 = 0.5 is the usual choice for adversarial updates: less momentum, less oscillation.
            self.opt_disc = torch.optim.Adam(
                m.discriminator.parameters(), lr=t.lr_disc * f, betas=(0.5, 0.999), fused=True
            )
            self.opt_gen = torch.optim.Adam(m.encoder.parameters(), lr=t.lr_gen * f, betas=(0.5, 0.999), fused=True)
            self._disc, self._gen = FusedAdamUpdate(self.opt_disc), FusedAdamUpdate(self.opt_gen)

    def _set_learning_rates(self) -> None:
        """Each optimizer's rate: the config's base rate times the schedule's factor at this step."""
        t, f = self.config.train, self.lr_factor
        for opt, lr in (
            (self.opt_recon, t.lr_recon),
            (getattr(self, "opt_disc", None), t.lr_disc),
            (getattr(self, "opt_gen", None), t.lr_gen),
        ):
            if opt is not None:
                for g in opt.param_groups:
                    g["lr"] = lr * f
        if self.categorical:
            self.categorical.set_rates(t, f)

    def update_settings(self, **changes) -> TrainConfig:
        """Change learning rates or discriminator noise without a restart; applied before the next step.
        Thread-safe: the app calls this while the worker trains."""
        new = self.config.train.with_updates(**changes)  # refuses what is not live (aae_core.settings.LIVE)
        with self._pending_lock:
            self._pending.update(changes)
        return new

    def _apply_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        factor = self.config.train.lr_factor(self.step_count, self.steps_per_epoch)
        if not pending and factor == self.lr_factor:
            return
        if pending:
            t = self.config.train.with_updates(**pending)
            self.config = RunConfig(self.config.model, self.config.prior, t, self.config.dataset)
        self.lr_factor = factor
        self._set_learning_rates()

    # ---- one step ------------------------------------------------------------------------------

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices of the next minibatch: a fresh seeded permutation each epoch, no per-sample loader."""
        b = self.config.train.batch_size
        if self._pos + b > len(self._perm):
            self._perm = torch.randperm(len(self._perm), generator=self.gen, device=self.device)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + b]
        self._pos += b
        # index_select, not x_train[idx]: the same rows, gathered in 7-22 us instead of 29-48 (2 or 1 threads)
        return self.data.x_train.index_select(0, idx), idx

    def _disc_input(self, z: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
        noise = self.config.train.disc_noise
        if noise > 0:  # small input noise keeps the discriminator from overpowering (REFERENCE.md section 3)
            z = z + noise * torch.randn(z.shape, generator=self.gen, device=z.device)
        return z if onehot is None else torch.cat([z, onehot], 1)

    def _conditioning(self, idx: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """One-hot (classes + 1 "unlabeled") and prior labels: a labelled image's real sample comes from its
        own component; an unlabeled one's from the whole prior (a uniformly random component)."""
        if not self.conditioned:
            return None, None
        k = self.config.model.n_label_classes
        y_train = self.data.y_train
        assert y_train is not None  # __init__ refuses label conditioning on data without labels
        y = y_train[idx]
        known = self.labelled[idx]
        onehot = F.one_hot(torch.where(known, y, torch.full_like(y, k)), k + 1).float()
        random_part = torch.randint(k, y.shape, generator=self.gen, device=y.device)
        return onehot, torch.where(known, y, random_part)

    def _aae_step(self, m: AAE, x: torch.Tensor, idx: torch.Tensor, phase: str) -> list[torch.Tensor | float]:
        # The losses stay tensors (NaN floats for phases that did not run): `step` copies them to the host at once.
        recon: torch.Tensor | float = math.nan
        d_loss: torch.Tensor | float = math.nan
        g_loss: torch.Tensor | float = math.nan
        d_acc: torch.Tensor | float = math.nan
        if phase in ("full", "recon"):
            loss = recon_loss(x, m.decoder(m.encoder(x)))
            self._recon.update(loss)
            recon = loss.detach()
        if phase in ("full", "disc", "gen"):
            onehot, prior_labels = self._conditioning(idx)
            # One encoder forward serves both regularization updates: the discriminator update leaves the
            # encoder's weights unchanged, so the codes (and their graph) are still exact for the generator.
            z_fake = m.encoder(x)
            if phase in ("full", "disc"):
                labels = None if prior_labels is None else prior_labels.cpu()
                z_real = self.prior.sample(x.shape[0], labels, self.prior_gen).to(x.device)
                logits = m.discriminator(
                    torch.cat([self._disc_input(z_real, onehot), self._disc_input(z_fake.detach(), onehot)])
                )
                target = self._real_then_fake
                loss = F.binary_cross_entropy_with_logits(logits, target)
                self._disc.update(loss)
                d_loss = loss.detach()
                d_acc = ((logits > 0).float() == target).float().mean()
            if phase in ("full", "gen"):
                # The discriminator is only a fixed critic here: the update asks for the encoder's gradients alone,
                # so autograd skips the discriminator's weight gradients.
                loss = F.binary_cross_entropy_with_logits(m.discriminator(self._disc_input(z_fake, onehot)), self._ones)
                self._gen.update(loss)
                g_loss = loss.detach()
        return [recon, d_loss, g_loss, d_acc, math.nan]

    def _ae_step(self, x: torch.Tensor) -> list[torch.Tensor | float]:
        loss = recon_loss(x, self.model.decoder(self.model.encoder(x)))
        self._recon.update(loss)
        return [loss.detach(), math.nan, math.nan, math.nan, math.nan]

    def _vae_step(self, m: VAE, x: torch.Tensor) -> list[torch.Tensor | float]:
        mu, logvar = m.posterior(x)
        std = (0.5 * logvar).exp()
        z = mu + std * torch.randn(mu.shape, generator=self.gen, device=mu.device)
        recon = recon_loss(x, m.decoder(z))
        kl = self.kl(mu, logvar, z)
        self._recon.update(recon + kl)
        return [recon.detach(), math.nan, math.nan, math.nan, kl.detach()]

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)) averaged over the batch: closed form for a Gaussian prior, else Monte-Carlo."""
        if isinstance(self.prior, GaussianPrior):
            return kl_gaussian(mu, logvar, self.config.prior.std)
        return kl_monte_carlo(mu, logvar, z, self.prior)

    def step(self, phase: str = "full") -> dict[str, float]:
        """Advance one minibatch. AAE phases: 'full', 'recon', 'disc' (discriminator only), 'gen'
        (encoder-as-generator only). Returns the losses; raises TrainingDiverged on NaN/inf."""
        if self.error:
            raise TrainingDiverged(self.error)
        if phase not in AAE_PHASES or (not self.is_aae and phase != "full"):
            allowed = AAE_PHASES if self.is_aae else ("full",)
            raise AAEError(f"phase={phase!r}: must be one of {', '.join(allowed)}")
        self._apply_pending()
        if not self.model.training:  # encode() leaves it in eval mode; train() walks every module
            self.model.train()
        x, idx = self._next_batch()
        m = self.model
        if isinstance(m, AAE):  # = self.is_aae; isinstance narrows the model for mypy
            raw = self._aae_step(m, x, idx, phase)
        elif self.categorical:
            raw = self.categorical.step(x, idx)
        else:
            raw = self._vae_step(m, x) if isinstance(m, VAE) else self._ae_step(x)
        used = [isinstance(v, torch.Tensor) for v in raw]  # phases that did not run report NaN
        # One device-to-host copy for all losses: on CUDA each float(tensor) would wait for the GPU on its own.
        ran = iter(torch.stack([v for v in raw if isinstance(v, torch.Tensor)]).tolist())
        losses = [next(ran) if u else math.nan for u in used]
        self.step_count += 1
        self.samples_seen += x.shape[0]
        self._history.append(self.step_count, losses)
        self.last_losses = dict(zip(HISTORY_KEYS, losses))
        if not all(math.isfinite(v) for v, u in zip(losses, used) if u):
            self._diverged(", ".join(f"{k}={v:.4g}" for k, v, u in zip(HISTORY_KEYS, losses, used) if u))
            self.publish(force_codes=True)
        elif time.perf_counter() - self._last_publish[0] >= self.publish_every_s:
            self.publish()
        if self.error:  # set by a non-finite loss, or by publish() finding non-finite weights or codes
            raise TrainingDiverged(self.error)
        return self.last_losses

    @property
    def weights_step(self) -> int:
        """The step the model's weights are from: the last good one once a divergence restored them."""
        return self._last_good_step if self.error else self.step_count

    def _diverged(self, what: str) -> None:
        """Restore the last good weights and record why; later steps refuse until a reset."""
        self.model.load_state_dict(self._last_good)
        self.error = (
            f"training diverged at step {self.step_count} ({what}); the last good weights (step "
            f"{self._last_good_step}) were restored. Lower the learning rates and reset."
        )

    # ---- running, publishing ------------------------------------------------------------------

    def run(
        self,
        epochs: float | None = None,
        seconds: float | None = None,
        stop: threading.Event | None = None,
        on_step=None,
    ) -> None:
        """Train until `epochs` more epochs, `seconds` of wall time, or `stop` is set (whichever first)."""
        if epochs is None and seconds is None and stop is None:
            raise AAEError("run: give epochs, seconds or a stop event, or it would never end")
        end_step = math.inf if epochs is None else self.step_count + math.ceil(epochs * self.steps_per_epoch)
        deadline = math.inf if seconds is None else time.perf_counter() + seconds
        while self.step_count < end_step and time.perf_counter() < deadline and not (stop and stop.is_set()):
            self.step()
            if on_step:
                on_step(self)
        self.publish(force_codes=True)
        if self.error:
            raise TrainingDiverged(self.error)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, batch: int = 2000) -> np.ndarray:
        """Codes (posterior means for a VAE) of images x, in eval mode, as a numpy array."""
        self.model.eval()
        return torch.cat([self.model.encode(x[i : i + batch]) for i in range(0, len(x), batch)]).cpu().numpy()

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(v).all()) for v in self.model.state_dict().values())

    def _copy_weights(self) -> dict[str, torch.Tensor]:
        self._last_good_step = self.step_count
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def publish(self, force_codes: bool = False) -> Snapshot:
        """Republish the snapshot (and the codes, and a last-good copy of the weights, at most every
        publish_every_s)."""
        now = time.perf_counter()
        t0, s0 = self._last_publish
        rate = (
            (self.samples_seen - s0) / (now - t0)
            if now > t0 and self.samples_seen > s0
            else self._snapshot.samples_per_s
        )
        old = self._snapshot
        codes, codes_step = old.codes, old.codes_step
        if force_codes or self.step_count != old.codes_step:
            codes, codes_step = self.encode(self.eval_x), self.step_count
            if self.error is None and not (np.isfinite(codes).all() and self._weights_finite()):
                # An update can overflow weights or codes although the loss computed before it was finite:
                # that is divergence too, caught here so no reader is handed non-finite codes without an error.
                self._diverged("non-finite weights or codes")
                codes = self.encode(self.eval_x)
            if self.error is None:
                self._last_good = self._copy_weights()
                self._timeline.offer(codes_step, codes)
        self._last_publish = (now, self.samples_seen)
        self._snapshot = Snapshot(
            version=old.version + 1,
            step=self.step_count,
            epoch=self.samples_seen / self.data.x_train.shape[0],
            samples_per_s=rate,
            history=self._history.export(),
            codes=codes,
            codes_step=codes_step,
            timeline=tuple(self._timeline.frames),
            error=self.error,
            **(self.categorical.published(codes_step) if self.categorical else {}),
        )
        return self._snapshot

    def snapshot(self) -> Snapshot:
        """The latest published state; safe to call from any thread, never blocks."""
        return self._snapshot
