"""Configuration dataclasses and the one validation layer shared by the CLI and the app.

Every user-facing value passes through here before anything is built or trained, so a
bad value is refused once, up front, with a message that names the field.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any


class AAEError(ValueError):
    """A problem with user input (a field, a file, a value): its message is one line a person can act on."""


PRIOR_NAMES = ("gaussian", "mixture", "swissroll")
MODEL_KINDS = ("aae", "vae", "ae")  # ae: a plain autoencoder, no regularizer (the baseline)
SIZE_PRESETS = {"explorer": (256, 256), "paper": (1000, 1000)}
# Upper bounds: a typo, a widget or a crafted checkpoint's metadata must not be able to exhaust memory.
MAX_PARAMETERS = 50_000_000  # weights of the autoencoder, and of the discriminator: 200 MB of float32 each
MAX_LAYERS = 8
MAX_LATENT_DIM = 1024
MAX_PARTS = 1000  # mixture components, swiss-roll segments, label classes
MAX_HISTORY = 100_000
MAX_SEED = 2**32 - 1
MAX_EPOCHS = 100_000


def _check(cond: bool, fieldname: str, value: Any, why: str) -> None:
    if not cond:
        raise AAEError(f"{fieldname}={value!r}: {why}")


def _positive_number(fieldname: str, value: Any) -> None:
    _check(
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0,
        fieldname,
        value,
        "must be a finite number > 0",
    )


def _int_at_least(fieldname: str, value: Any, low: int, high: int | None = None) -> None:
    _check(
        isinstance(value, int) and not isinstance(value, bool) and value >= low,
        fieldname,
        value,
        f"must be an integer >= {low}",
    )
    if high is not None:
        _check(value <= high, fieldname, value, f"must be at most {high}")


def _dense_weights(sizes: list[int]) -> int:
    """Weights of an MLP with these layer sizes (biases are negligible next to them)."""
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


@dataclass(frozen=True)
class PriorConfig:
    """Which prior p(z) the codes are pushed onto, and its parameters (REFERENCE.md section 2)."""

    name: str = "gaussian"
    dim: int = 2
    # Scales: a plain autoencoder's 2-D codes on mnist5k have a natural std of 6-7 per dimension, and a prior near
    # that scale lets reconstruction and regularization agree (the paper's likelihood model used std 5). Each
    # prior's default has a per-dimension std near 5; the sweep behind them is bench/results/recipe-sweep.json.
    std: float = 5.0  # gaussian: sigma of N(0, sigma^2 I)
    n_components: int = 10  # mixture: K petals
    radius: float = 7.0  # mixture: distance of each petal's centre from the origin (the paper's 1.4, x5)
    radial_std: float = 2.5  # mixture: spread along the petal (0.5, x5)
    tangential_std: float = 0.5  # mixture: spread across the petal (0.1, x5)
    rest_std: float = 5.0  # mixture in d > 2: std of the dims beyond the first two
    n_segments: int = 10  # swiss roll: label segments along the roll
    roll_radius: float = 10.0  # swiss roll: radius of its outer end (two turns, so the turns are 5 apart)

    def validate(self) -> PriorConfig:
        _check(self.name in PRIOR_NAMES, "prior", self.name, f"must be one of {', '.join(PRIOR_NAMES)}")
        _int_at_least("latent_dim", self.dim, 1, MAX_LATENT_DIM)
        _positive_number("prior_std", self.std)
        _int_at_least("n_components", self.n_components, 1, MAX_PARTS)
        _positive_number("radius", self.radius)
        _positive_number("radial_std", self.radial_std)
        _positive_number("tangential_std", self.tangential_std)
        _positive_number("rest_std", self.rest_std)
        _int_at_least("n_segments", self.n_segments, 1, MAX_PARTS)
        _positive_number("roll_radius", self.roll_radius)
        if self.name == "mixture":
            _check(
                self.dim >= 2,
                "latent_dim",
                self.dim,
                "the mixture prior lays its petals out in 2-D, so it needs latent_dim >= 2",
            )
        if self.name == "swissroll":
            _check(self.dim == 2, "latent_dim", self.dim, "the swiss roll prior exists only in 2-D")
        return self

    def params(self) -> dict:
        """Only the parameters that matter for this prior, for metadata and display."""
        keep = {
            "gaussian": ("std",),
            "mixture": ("n_components", "radius", "radial_std", "tangential_std", "rest_std"),
            "swissroll": ("n_segments", "roll_radius"),
        }[self.name]
        return {"name": self.name, "dim": self.dim, **{k: getattr(self, k) for k in keep}}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture: MLP widths shared by encoder and decoder, and the discriminator's."""

    kind: str = "aae"
    input_dim: int = 784
    latent_dim: int = 2
    hidden: tuple[int, ...] = SIZE_PRESETS["explorer"]
    disc_hidden: tuple[int, ...] = SIZE_PRESETS["explorer"]
    n_label_classes: int = 0  # > 0: the discriminator also sees a one-hot of n_label_classes + 1 ("unlabeled")

    def validate(self) -> ModelConfig:
        _check(self.kind in MODEL_KINDS, "model", self.kind, f"must be one of {', '.join(MODEL_KINDS)}")
        _int_at_least("input_dim", self.input_dim, 1)
        _int_at_least("latent_dim", self.latent_dim, 1, MAX_LATENT_DIM)
        for name, widths in (("hidden", self.hidden), ("disc_hidden", self.disc_hidden)):
            _check(
                isinstance(widths, (tuple, list)) and 1 <= len(widths) <= MAX_LAYERS,
                name,
                widths,
                f"must list 1 to {MAX_LAYERS} hidden widths",
            )
            for w in widths:
                _int_at_least(name, w, 1)
        _int_at_least("n_label_classes", self.n_label_classes, 0, MAX_PARTS)
        autoencoder = _dense_weights([self.input_dim, *self.hidden, 2 * self.latent_dim]) + _dense_weights(
            [self.latent_dim, *reversed(self.hidden), self.input_dim]
        )
        discriminator = _dense_weights([self.latent_dim + self.n_label_classes + 1, *self.disc_hidden, 1])
        for name, widths, n in (("hidden", self.hidden, autoencoder), ("disc_hidden", self.disc_hidden, discriminator)):
            _check(
                n <= MAX_PARAMETERS,
                name,
                widths,
                f"with input_dim={self.input_dim} gives about {n:,} weights, more than the {MAX_PARAMETERS:,} limit",
            )
        _check(
            not (self.kind != "aae" and self.n_label_classes),
            "label_conditioned",
            True,
            "label-conditioned regularization needs a discriminator, so it works with --model aae only",
        )
        return self

    @staticmethod
    def preset(name: str) -> tuple[int, ...]:
        """Hidden widths of a named size preset ('explorer' is fast, 'paper' is 1000-1000 as in Appendix A)."""
        _check(name in SIZE_PRESETS, "size", name, f"must be one of {', '.join(SIZE_PRESETS)}")
        return SIZE_PRESETS[name]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings: the defaults are the project's one recipe (bench/results/recipe-sweep.json).
    lr_* and disc_noise can change while a job runs; the rest need a restart. The learning rates are the base
    rates of a step schedule: the last `cool_fraction` of the run's `epochs` trains at lr x `cool_factor`."""

    batch_size: int = 100
    lr_recon: float = 1e-3
    # The adversarial phases run 5x slower than reconstruction: at 5e-4 the adversary destroyed the codes' class
    # structure (5-NN 0.40), at 2e-4 it kept it (0.66) with the codes on the prior (MMD^2 2x its floor).
    lr_disc: float = 2e-4
    lr_gen: float = 2e-4
    disc_noise: float = 0.0  # std of Gaussian noise added to the discriminator's inputs
    epochs: float = 100.0  # the run's length: the schedule below is laid out over it
    cool_fraction: float = 0.2  # the last 20 % of the steps ...
    cool_factor: float = 0.1  # ... run at a tenth of each rate, so the adversarial game settles
    label_fraction: float | None = None  # None: unconditioned; else fraction of train labels the discriminator sees
    seed: int = 0
    history_len: int = 2000  # bounded loss histories
    n_eval_codes: int = 1000  # held-out images whose codes are kept up to date

    def validate(self, n_train: int | None = None) -> TrainConfig:
        _int_at_least("batch_size", self.batch_size, 1)
        if n_train is not None:
            _check(
                self.batch_size <= n_train,
                "batch_size",
                self.batch_size,
                f"is larger than the training set ({n_train} examples)",
            )
        for name in ("lr_recon", "lr_disc", "lr_gen"):
            _positive_number(name, getattr(self, name))
        _check(
            isinstance(self.disc_noise, (int, float)) and math.isfinite(self.disc_noise) and self.disc_noise >= 0,
            "disc_noise",
            self.disc_noise,
            "must be a finite number >= 0",
        )
        if self.label_fraction is not None:
            _check(
                isinstance(self.label_fraction, (int, float)) and 0 <= self.label_fraction <= 1,
                "label_fraction",
                self.label_fraction,
                "must be between 0 and 1",
            )
        _check(
            isinstance(self.epochs, (int, float))
            and not isinstance(self.epochs, bool)
            and math.isfinite(self.epochs)
            and 0 < self.epochs <= MAX_EPOCHS,
            "epochs",
            self.epochs,
            f"must be a finite number > 0 and at most {MAX_EPOCHS:,}",
        )
        _check(
            isinstance(self.cool_fraction, (int, float))
            and not isinstance(self.cool_fraction, bool)
            and 0 <= self.cool_fraction < 1,
            "cool_fraction",
            self.cool_fraction,
            "must be at least 0 and below 1",
        )
        _check(
            isinstance(self.cool_factor, (int, float))
            and not isinstance(self.cool_factor, bool)
            and 0 < self.cool_factor <= 1,
            "cool_factor",
            self.cool_factor,
            "must be above 0 and at most 1",
        )
        _int_at_least("seed", self.seed, 0, MAX_SEED)
        _int_at_least("history_len", self.history_len, 10, MAX_HISTORY)
        _int_at_least("n_eval_codes", self.n_eval_codes, 10)
        return self

    def lr_factor(self, step: int, steps_per_epoch: float) -> float:
        """The schedule's multiplier of every learning rate at `step` (0-based): 1, then cool_factor once the
        last cool_fraction of the `epochs` budget begins."""
        total = math.ceil(self.epochs * steps_per_epoch)
        cooled = round(self.cool_fraction * total)
        return self.cool_factor if cooled and step >= total - cooled else 1.0

    def with_updates(self, **changes: Any) -> TrainConfig:
        """A validated copy with some fields changed (unknown fields are refused by name)."""
        known = {f.name for f in fields(self)}
        for k in changes:
            _check(k in known, "setting", k, f"is not a training setting ({', '.join(sorted(known))})")
        return replace(self, **changes).validate()


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run, as stored in a checkpoint's metadata."""

    model: ModelConfig = field(default_factory=ModelConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset: str = "mnist5k"

    def validate(self, n_train: int | None = None) -> RunConfig:
        self.model.validate()
        self.prior.validate()
        self.train.validate(n_train)
        _check(
            self.model.latent_dim == self.prior.dim,
            "latent_dim",
            self.model.latent_dim,
            f"differs from the prior's dim ({self.prior.dim})",
        )
        if self.model.n_label_classes or self.train.label_fraction is not None:
            _check(
                self.prior.name != "gaussian",
                "label_conditioned",
                True,
                "needs a mixture or swissroll prior: a single Gaussian has no per-label component",
            )
            _check(
                self.model.n_label_classes > 0 and self.train.label_fraction is not None,
                "label_conditioned",
                True,
                "needs both n_label_classes > 0 and a label_fraction",
            )
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> RunConfig:
        """Rebuild from metadata, refusing unknown or missing sections and fields by name (a missing field is
        not filled with today's default: that could silently describe a different model)."""
        try:
            sections = {}
            for name, cls in (("model", ModelConfig), ("prior", PriorConfig), ("train", TrainConfig)):
                sections[name] = dict(d[name])
                missing = sorted({f.name for f in fields(cls)} - set(sections[name]))
                _check(not missing, f"config.{name}", missing, "fields missing")
            model = sections["model"]
            model["hidden"] = tuple(model["hidden"])
            model["disc_hidden"] = tuple(model["disc_hidden"])
            return RunConfig(
                model=ModelConfig(**model),
                prior=PriorConfig(**sections["prior"]),
                train=TrainConfig(**sections["train"]),
                dataset=str(d["dataset"]),
            ).validate()
        except AAEError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise AAEError(f"config: malformed or unknown field ({e})") from None


def build_run_config(
    *,
    model: str = "aae",
    prior: str = "gaussian",
    dataset: str = "mnist5k",
    latent_dim: int = 2,
    size: str = "explorer",
    input_dim: int = 784,
    n_classes: int = 10,
    label_conditioned: bool = False,
    label_fraction: float = 1.0,
    prior_params: dict | None = None,
    n_train: int | None = None,
    **train: Any,
) -> RunConfig:
    """Assemble and validate a RunConfig from flat user-facing fields (what the CLI flags and app widgets hold).
    `n_train`, the training set's size when known, lets the batch size be checked against it."""
    widths = ModelConfig.preset(size)
    prior_params = prior_params or {}
    for cls, given in ((PriorConfig, prior_params), (TrainConfig, train)):
        known = {f.name for f in fields(cls)} - {"name", "dim", "label_fraction"}  # set by their own arguments
        for k in given:
            _check(k in known, "setting", k, f"is not a {cls.__name__} field ({', '.join(sorted(known))})")
    prior_cfg = PriorConfig(name=prior, dim=latent_dim, **prior_params)
    model_cfg = ModelConfig(
        kind=model,
        input_dim=input_dim,
        latent_dim=latent_dim,
        hidden=widths,
        disc_hidden=widths,
        n_label_classes=n_classes if label_conditioned else 0,
    )
    train_cfg = TrainConfig(label_fraction=label_fraction if label_conditioned else None, **train)
    return RunConfig(model=model_cfg, prior=prior_cfg, train=train_cfg, dataset=dataset).validate(n_train)
