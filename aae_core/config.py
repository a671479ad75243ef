"""The configuration of one run (model, prior, training), built and validated once at the edge.

Each field's default and domain come from its row in `aae_core.settings`; here live the sections'
shapes and the rules that tie fields together (a swiss roll is 2-D, conditioning needs parts...).
`build_run_config` turns flat settings (what CLI flags and app widgets hold) into a validated
RunConfig, and `RunConfig.settings` turns one back into flat settings (loading a checkpoint).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from . import drawn_prior
from .errors import AAEError
from .settings import (
    BY_NAME,
    CATEGORICAL_KINDS,
    CLUSTERING_KINDS,
    MAX_PARTS,
    SETTINGS,
    SIZE_PRESETS,
    check_fields,
    default,
    section,
)

MAX_PARAMETERS = 50_000_000  # weights of the autoencoder, and of the discriminator: 200 MB of float32 each
MAX_LAYERS = 8


def _check(cond: bool, fieldname: str, value: Any, why: str) -> None:
    if not cond:
        raise AAEError(f"{fieldname}={value!r}: {why}")


def _dense_weights(sizes: list[int]) -> int:
    """Weights of an MLP with these layer sizes (biases are negligible next to them)."""
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


@dataclass(frozen=True)
class PriorConfig:
    """Which prior p(z) the codes are pushed onto, and its parameters (each prior reads only its own)."""

    name: str = default("prior")
    dim: int = default("latent_dim")
    std: float = default("prior_std")
    n_parts: int = default("n_parts")  # mixture petals, or swiss-roll segments
    radius: float = default("radius")
    radial_std: float = default("radial_std")
    tangential_std: float = default("tangential_std")
    rest_std: float = default("rest_std")
    roll_radius: float = default("roll_radius")
    points: str = default("points")  # a drawn prior's strokes (aae_core.drawn_prior's encoding)
    spread: float = default("spread")

    def validate(self) -> PriorConfig:
        check_fields(self, "prior")
        BY_NAME["latent_dim"].check(self.dim)
        if self.name == "mixture":
            _check(self.dim >= 2, "latent_dim", self.dim, "the mixture's petals lie in 2-D: needs latent_dim >= 2")
        if self.name == "swissroll":
            _check(self.dim == 2, "latent_dim", self.dim, "the swiss roll prior exists only in 2-D")
        if self.name == "points":
            _check(self.dim == 2, "latent_dim", self.dim, "a drawn prior exists only in 2-D")
            drawn_prior.decode(self.points)  # bounded and checked: AAEError naming what is wrong
        return self

    def params(self) -> dict:
        """Only the parameters that matter for this prior, for display."""
        mine = {f: getattr(self, f) for f, s in section("prior").items() if s.priors and self.name in s.priors}
        return {"name": self.name, "dim": self.dim} | mine


@dataclass(frozen=True)
class ModelConfig:
    """Architecture: MLP widths shared by encoder and decoder, and the discriminator's."""

    kind: str = default("model")
    input_dim: int = 784
    latent_dim: int = default("latent_dim")
    hidden: tuple[int, ...] = SIZE_PRESETS[default("size")]
    disc_hidden: tuple[int, ...] = SIZE_PRESETS[default("size")]
    n_label_classes: int = 0  # > 0: the discriminator also sees a one-hot of n_label_classes + 1 ("unlabeled")
    disc_batchnorm: bool = default("disc_batchnorm")
    n_categories: int = 0  # K of a categorical model's y (CATEGORICAL_KINDS): its classes or clusters; else 0

    def validate(self) -> ModelConfig:
        check_fields(self, "model")
        _check(isinstance(self.input_dim, int) and self.input_dim >= 1, "input_dim", self.input_dim, "must be >= 1")
        for name, widths in (("hidden", self.hidden), ("disc_hidden", self.disc_hidden)):
            _check(
                isinstance(widths, (tuple, list)) and 1 <= len(widths) <= MAX_LAYERS,
                name, widths, f"must list 1 to {MAX_LAYERS} hidden widths",
            )  # fmt: skip
            for w in widths:
                _check(isinstance(w, int) and not isinstance(w, bool) and w >= 1, name, w, "must be an integer >= 1")
        _check(
            isinstance(self.n_label_classes, int) and 0 <= self.n_label_classes <= MAX_PARTS,
            "n_label_classes", self.n_label_classes, f"must be an integer between 0 and {MAX_PARTS}",
        )  # fmt: skip
        categorical = self.kind in CATEGORICAL_KINDS
        _check(
            isinstance(self.n_categories, int) and (2 <= self.n_categories <= MAX_PARTS if categorical
                                                    else self.n_categories == 0),
            "n_categories", self.n_categories,
            f"must be an integer between 2 and {MAX_PARTS} for --model {self.kind}" if categorical
            else f"must be 0 for --model {self.kind} (only {', '.join(CATEGORICAL_KINDS)} have categories)",
        )  # fmt: skip
        k = self.n_categories
        autoencoder = _dense_weights([self.input_dim, *self.hidden, 2 * self.latent_dim + k]) + _dense_weights(
            [self.latent_dim + k, *reversed(self.hidden), self.input_dim]
        )
        discriminator = _dense_weights([self.latent_dim + self.n_label_classes + 1, *self.disc_hidden, 1])
        for name, widths, n in (("hidden", self.hidden, autoencoder), ("disc_hidden", self.disc_hidden, discriminator)):
            _check(
                n <= MAX_PARAMETERS, name, widths,
                f"with input_dim={self.input_dim} gives about {n:,} weights, more than the {MAX_PARAMETERS:,} limit",
            )  # fmt: skip
        _check(
            not (self.kind != "aae" and self.n_label_classes), "label_conditioned", True,
            "label-conditioned regularization needs a discriminator, so it works with --model aae only",
        )  # fmt: skip
        _check(
            not (self.kind != "aae" and self.disc_batchnorm), "disc_batchnorm", True,
            "needs a discriminator, so it works with --model aae only",
        )  # fmt: skip
        return self


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. The learning rates and disc_noise can change while a job runs; the rest need a
    restart. The rates are the base of a step schedule: the last `cool_fraction` of the run's `epochs` trains
    at lr x `cool_factor`."""

    batch_size: int = default("batch_size")
    lr_recon: float = default("lr_recon")
    lr_disc: float = default("lr_disc")
    lr_gen: float = default("lr_gen")
    disc_noise: float = default("disc_noise")
    epochs: float = default("epochs")
    holdout: int = default("holdout")
    cool_fraction: float = default("cool_fraction")
    cool_factor: float = default("cool_factor")
    label_fraction: float | None = None  # None: unconditioned; else the fraction of train labels the discriminator sees
    n_labels: int | None = None  # semisupervised: the labelled training images; None for every other model
    seed: int = default("seed")
    history_len: int = default("history_len")
    n_eval_codes: int = default("n_eval_codes")

    def validate(self, n_train: int | None = None) -> TrainConfig:
        check_fields(self, "train")
        return self if n_train is None else self.fits(n_train)

    def fits(self, n_train: int) -> TrainConfig:
        """Refuse a holdout that leaves no training images, or a batch or a labelled set larger than what is left
        (what a config can only be checked against with its data)."""
        _check(
            self.holdout < n_train, "holdout", self.holdout,
            f"leaves nothing to train on (the training set has {n_train} examples)",
        )  # fmt: skip
        left = n_train - self.holdout
        for name, value in (("batch_size", self.batch_size), ("labels", self.n_labels)):
            _check(
                value is None or value <= left, name, value,
                f"is larger than the training set ({left} examples"
                + (f" after holding out {self.holdout})" if self.holdout else ")"),
            )  # fmt: skip
        return self

    def lr_factor(self, step: int, steps_per_epoch: float) -> float:
        """The schedule's multiplier of every learning rate at `step` (0-based): 1, then cool_factor once the
        last cool_fraction of the `epochs` budget begins."""
        total = math.ceil(self.epochs * steps_per_epoch)
        cooled = round(self.cool_fraction * total)
        return self.cool_factor if cooled and step >= total - cooled else 1.0

    def with_updates(self, **changes: Any) -> TrainConfig:
        """A copy with live settings changed, each checked against its row (others are refused by name)."""
        live = {fieldname for fieldname, s in section("train").items() if s.live}
        for k, v in changes.items():
            _check(
                k in live, "setting", k, f"cannot change while training ({', '.join(sorted(live))} can); reset instead"
            )
            section("train")[k].check(v)
        return replace(self, **changes)


_SECTION_CLASSES = {"model": ModelConfig, "prior": PriorConfig, "train": TrainConfig}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run, as stored in a checkpoint's metadata."""

    model: ModelConfig = field(default_factory=ModelConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset: str = default("dataset")

    def validate(self, n_train: int | None = None) -> RunConfig:
        self.model.validate()
        self.prior.validate()
        self.train.validate(n_train)
        _check(
            self.model.latent_dim == self.prior.dim, "latent_dim", self.model.latent_dim,
            f"differs from the prior's dim ({self.prior.dim})",
        )  # fmt: skip
        if self.model.n_label_classes or self.train.label_fraction is not None:
            _check(
                self.prior.name != "gaussian", "label_conditioned", True,
                "needs a mixture or swissroll prior: a single Gaussian has no per-label component",
            )  # fmt: skip
            _check(
                self.model.n_label_classes > 0 and self.train.label_fraction is not None, "label_conditioned", True,
                "needs both n_label_classes > 0 and a label_fraction",
            )  # fmt: skip
        kind = self.model.kind
        if kind in CATEGORICAL_KINDS:
            _check(
                self.prior.name == "gaussian", "prior", self.prior.name,
                f"--model {kind} regularizes its style code to a Gaussian: use --prior gaussian",
            )  # fmt: skip
        _check(
            (self.train.n_labels is not None) == (kind == "semisupervised"), "labels", self.train.n_labels,
            "only --model semisupervised takes a number of labels (and it needs one)",
        )  # fmt: skip
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    def settings(self) -> dict[str, Any]:
        """The flat settings that rebuild this config with `build_run_config` (size is None for widths that are
        no preset; label_fraction keeps its default when unconditioned)."""
        flat: dict[str, Any] = {}
        for s in SETTINGS:
            if s.target:
                where, _, name = s.target.rpartition(".")
                value = getattr(getattr(self, where) if where else self, name)
                flat[s.name] = s.default if value is None else value
        flat["size"] = next((n for n, w in SIZE_PRESETS.items() if w == self.model.hidden), None)
        flat["label_conditioned"] = self.model.n_label_classes > 0
        flat["clusters"] = self.model.n_categories if self.model.kind in CLUSTERING_KINDS else default("clusters")
        return flat

    @staticmethod
    def from_dict(d: dict) -> RunConfig:
        """Rebuild from metadata, refusing unknown or missing sections and fields by name (a missing field is
        not filled with today's default: that could silently describe a different model)."""
        try:
            sections = {}
            for name, cls in _SECTION_CLASSES.items():
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
    *, input_dim: int = 784, n_classes: int = 10, n_train: int | None = None, **settings: Any
) -> RunConfig:
    """A validated RunConfig from flat settings (names from aae_core.settings; the rest take their defaults).
    `input_dim` and `n_classes` describe the data; `n_train`, the training set's size when known, lets the batch
    size be checked against it. This is the one place a setting fans out: `size` to both widths, `latent_dim`
    to the model and the prior, `label_conditioned` to the discriminator's labels and the label fraction,
    `clusters` (or the data's classes) to a categorical model's K."""
    for k in settings:
        _check(k in BY_NAME, "setting", k, "is not a setting (see aae_core.settings.SETTINGS)")
    flat = {s.name: s.default for s in SETTINGS} | settings
    BY_NAME["size"].check(flat["size"])
    BY_NAME["label_conditioned"].check(flat["label_conditioned"])
    BY_NAME["clusters"].check(flat["clusters"])
    conditioned = flat["label_conditioned"]
    BY_NAME["prior_file"].check(flat["prior_file"])
    if flat["prior_file"]:
        _check(flat["prior"] == "points", "prior_file", flat["prior_file"], "needs --prior points")
        flat["points"] = drawn_prior.read_points_file(flat["prior_file"])
    if flat["prior"] != "points":
        flat["points"] = BY_NAME["points"].default  # a drawing means nothing to another prior: no restart over it
    _check(
        flat["prior"] != "points" or bool(flat["points"]), "prior", "points",
        "needs a drawing: --prior-file F (a .csv of x, y or an .npz with z), or draw one in the app",
    )  # fmt: skip
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTION_CLASSES}
    for name in _SECTION_CLASSES:
        for fieldname, s in section(name).items():
            sections[name][fieldname] = flat[s.name]
    sections["prior"]["dim"] = flat["latent_dim"]
    widths = SIZE_PRESETS[flat["size"]]
    sections["model"] |= {"input_dim": input_dim, "hidden": widths, "disc_hidden": widths,
                          "n_label_classes": n_classes if conditioned else 0}  # fmt: skip
    if not conditioned:
        sections["train"]["label_fraction"] = None
    kind = flat["model"]
    if kind in CATEGORICAL_KINDS and kind not in CLUSTERING_KINDS and n_classes < 2:
        what = f"labels={flat['labels']!r}" if kind == "semisupervised" else f"model={kind!r}"
        raise AAEError(f"{what}: --model {kind} needs a labelled dataset (with at least 2 classes); this one has none")
    if kind in CATEGORICAL_KINDS:
        sections["model"]["n_categories"] = flat["clusters"] if kind in CLUSTERING_KINDS else n_classes
    if kind != "semisupervised":
        sections["train"]["n_labels"] = None
    return RunConfig(
        model=ModelConfig(**sections["model"]),
        prior=PriorConfig(**sections["prior"]),
        train=TrainConfig(**sections["train"]),
        dataset=flat["dataset"],
    ).validate(n_train)
