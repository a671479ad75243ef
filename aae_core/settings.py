"""Every user-facing setting, declared once: its type, default, bounds or choices, URL alias, help, liveness.

This table is the project's one source of truth for settings (in the spirit of scikit-learn's
`_parameter_constraints` and TensorFlow Playground's one table of state). From it come:
  * config validation: `aae_core.config` checks each field against its row, once, when a config is built;
  * the CLI: `add_arguments` turns rows into argparse flags (`--name-with-dashes`, dest = the name);
  * the app: widget keys are the names, widget domains the rows' bounds, choices and options;
  * the URL: `alias` is a row's short query-param name (`?k=5`), parsed and bounded by `parse`.
A setting's `target` says where it lands in a RunConfig ("prior.n_parts"); settings without one
(`size`, `label_conditioned`) are expanded by `aae_core.config.build_run_config`.
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import AAEError

PRIOR_NAMES = ("gaussian", "mixture", "swissroll", "points")  # points: drawn by hand or read from a file
# ae: a plain autoencoder, no regularizer (the baseline). The paper's sections 4-7 (aae_core.categorical_training):
# supervised (the label goes to the decoder), semisupervised and cluster (a softmax head q(y|x) regularized to
# Cat(K)), dimred (cluster heads plus style summed into a 2-D code).
CATEGORICAL_KINDS = ("supervised", "semisupervised", "cluster", "dimred")
CLUSTERING_KINDS = ("cluster", "dimred")  # K is --clusters; the others have one category per class
MODEL_KINDS = ("aae", "vae", "ae", *CATEGORICAL_KINDS)
SIZE_PRESETS = {"explorer": (256, 256), "paper": (1000, 1000)}
# Upper bounds: a typo, a widget or a crafted checkpoint's metadata must not be able to exhaust memory.
MAX_LATENT_DIM = 1024
MAX_PARTS = 1000  # mixture components, swiss-roll segments, label classes
MAX_HISTORY = 100_000
MAX_SEED = 2**32 - 1
MAX_EPOCHS = 100_000
MAX_BATCH = 100_000
MAX_HOLDOUT = 10_000_000
MAX_LABELS = 10_000_000
MAX_SCALE = 1000.0  # prior scales: far beyond any code an MLP of these sizes produces


@dataclass(frozen=True)
class Setting:
    """One setting. `low`/`high` bound numbers (open bounds exclude the value itself); `choices` lists every
    value allowed; `options` are a widget's suggested values within the bounds (a ladder of learning rates)."""

    name: str
    kind: type
    default: Any
    help: str
    target: str | None = None  # "section.field" in a RunConfig; None: expanded by build_run_config
    alias: str | None = None  # URL query-param name; None: not in the app's URL
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    options: tuple = ()
    step: float | None = None  # a number widget's step
    app_high: float | None = None  # the app's widgets and links stop here, below `high`: its plots stay readable
    live: bool = False  # changes while a job trains, no restart
    priors: tuple[str, ...] = ()  # the priors it means something for; (): all
    cli: bool = True  # an aae-train flag
    old_flags: tuple[str, ...] = ()  # earlier names of its flag, still accepted

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """What the value must be, as the end of an error message."""
        if self.choices is not None:
            return f"must be one of {', '.join(map(str, self.choices))}"
        what = {bool: "true or false", int: "an integer", float: "a finite number", str: "a text"}[self.kind]
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return f"must be {what}" + (f" {' and '.join(bounds)}" if bounds else "")

    def allows(self, value: Any) -> bool:
        """Whether `value` has this setting's type and lies in its domain."""
        if self.choices is not None:
            return any(value == c and type(value) is type(c) for c in self.choices)
        if self.kind is bool or self.kind is str:
            return isinstance(value, self.kind)
        if not _is_number(value) or (self.kind is int and not isinstance(value, int)) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def check(self, value: Any) -> Any:
        """`value` if it is allowed, else AAEError naming the setting and the value."""
        if not self.allows(value):
            raise AAEError(f"{self.name}={value!r}: {self.describe()}")
        return value

    def parse(self, text: str) -> Any:
        """A value from text (a URL parameter): converted to the setting's type and checked; AAEError if not."""
        try:
            value = {"true": True, "false": False}[text.lower()] if self.kind is bool else self.kind(text)
        except (KeyError, ValueError):
            raise AAEError(f"{self.name}={text!r}: {self.describe()}") from None
        return self.check(value)

    def applies(self, prior: str) -> bool:
        """Whether the setting means anything under this prior (sigma only for a Gaussian, and so on). The label
        fraction needs no such rule: an unconditioned config has none (RunConfig.settings shows the default)."""
        return not self.priors or prior in self.priors


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rate(name: str, default: float, what: str) -> Setting:
    return Setting(
        name, float, default, f"learning rate of the {what}", target=f"train.{name}", alias=name, low=0.0,
        low_open=True, options=LEARNING_RATES, live=True,
    )  # fmt: skip


def _scale(name: str, default: float, help: str, alias: str | None, priors: tuple[str, ...], step: float) -> Setting:
    return Setting(
        name, float, default, help, target=f"prior.{name.removeprefix('prior_')}", alias=alias, low=0.0,
        low_open=True, high=MAX_SCALE, step=step, priors=priors,
    )  # fmt: skip


LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2)

# The defaults are the project's one recipe, chosen by the sweep bench/grids/recipe.toml (aae-sweep, 3 seeds per
# cell; its results are in bench/results/recipe-sweep/).
# Scales: a plain autoencoder's 2-D codes on mnist5k have a natural std of 6-7 per dimension, and a prior near
# that scale lets reconstruction and regularization agree (the paper's likelihood model used std 5).
SETTINGS: tuple[Setting, ...] = (
    # ---- the run: data and model ----
    Setting("dataset", str, "mnist5k", "mnist5k, digits, fashion, a folder of IDX files, or an .npz",
            target="dataset", alias="data"),
    Setting("model", str, "aae", "aae, vae, ae (a plain autoencoder: no regularizer), or the paper's supervised, "
            "semisupervised, cluster and dimred (sections 4-7)", target="model.kind", alias="model",
            choices=MODEL_KINDS),
    Setting("size", str, "explorer", "hidden widths of encoder, decoder and discriminator (explorer 256-256, "
            "paper 1000-1000)", alias="size", choices=tuple(SIZE_PRESETS)),
    Setting("latent_dim", int, 2, "dimension of the codes z (and of the prior)", target="model.latent_dim",
            alias="dim", low=1, high=MAX_LATENT_DIM, app_high=32),
    # A known failure, kept as an option so it can be shown (REFERENCE.md section 3): in the generator phase the
    # discriminator sees a batch of codes alone, and BatchNorm normalises away their offset and scale.
    Setting("disc_batchnorm", bool, False, "BatchNorm after each hidden layer of the discriminator (a known way "
            "to break an AAE)", target="model.disc_batchnorm", alias="dbn"),
    # ---- the prior p(z) ----
    Setting("prior", str, "gaussian", "the prior p(z) the codes are pushed onto", target="prior.name",
            alias="prior", choices=PRIOR_NAMES),
    _scale("prior_std", 5.0, "gaussian: sigma of N(0, sigma^2 I)", "std", ("gaussian",), 0.1),
    Setting("n_parts", int, 10, "mixture: K petals; swiss roll: K label segments along the roll",
            target="prior.n_parts", alias="k", low=1, high=MAX_PARTS, priors=("mixture", "swissroll"),
            app_high=20, old_flags=("--n-components",)),
    _scale("radius", 7.0, "mixture: distance of each petal's centre from the origin (the paper's 1.4, x5)",
           "radius", ("mixture",), 0.1),
    _scale("radial_std", 2.5, "mixture: spread along a petal (0.5, x5)", "radial", ("mixture",), 0.05),
    _scale("tangential_std", 0.5, "mixture: spread across a petal (0.1, x5)", "tangential", ("mixture",), 0.01),
    _scale("rest_std", 5.0, "mixture in d > 2: std of the dimensions beyond the first two", None, ("mixture",), 0.1),
    _scale("roll_radius", 10.0, "swiss roll: radius of its outer end (two turns, so they lie half of it apart)",
           "roll", ("swissroll",), 0.5),
    # A drawn prior (aae_core.drawn_prior): its strokes as one compact text, so links and checkpoints carry it.
    Setting("points", str, "", "points: the drawing's strokes, as aae_core.drawn_prior encodes them",
            target="prior.points", alias="draw", priors=("points",), cli=False),
    Setting("prior_file", str, "", "points: a .csv of x, y (a header row optional) or an .npz with z of shape "
            "(N, 2); every row is a point of the prior", priors=("points",)),
    _scale("spread", 0.5, "points: std of the Gaussian spread around the drawing's strokes", "spread",
           ("points",), 0.05),
    # ---- label conditioning (Fig. 4) ----
    Setting("label_conditioned", bool, False, "the discriminator also sees a one-hot label; each class gets its "
            "own component or segment", alias="cond", priors=("mixture", "swissroll", "points")),
    Setting("label_fraction", float, 1.0, "fraction of training labels the discriminator sees",
            target="train.label_fraction", alias="labels", low=0.0, high=1.0, step=0.05),
    # ---- the categorical models (sections 5-7) ----
    Setting("labels", int, 100, "semisupervised: labelled training images, chosen class-balanced with the seed",
            target="train.n_labels", alias="nlab", low=1, high=MAX_LABELS),
    Setting("clusters", int, 16, "cluster, dimred: K, the number of clusters", alias="clusters", low=2,
            high=MAX_PARTS, app_high=50),
    # ---- training ----
    Setting("batch_size", int, 100, "examples per minibatch", target="train.batch_size", alias="batch", low=1,
            high=MAX_BATCH, options=(16, 32, 64, 100, 128, 256, 512)),
    Setting("seed", int, 0, "seed of the data split, the weights and the minibatches", target="train.seed",
            alias="seed", low=0, high=MAX_SEED),
    Setting("epochs", float, 100.0, "the run's length in epochs: the learning-rate schedule spans them",
            target="train.epochs", alias="epochs", low=0.0, low_open=True, high=MAX_EPOCHS, step=10.0),
    # Table 1's protocol chooses the Parzen window on validation images the model never trained on.
    Setting("holdout", int, 0, "the last N images of the training split are held out of training (a validation "
            "set, e.g. for a Parzen window's width)", target="train.holdout", low=0, high=MAX_HOLDOUT),
    _rate("lr_recon", 1e-3, "reconstruction phase (encoder and decoder)"),
    # The adversarial phases run 5x slower than reconstruction: at 5e-4 the adversary destroyed the codes' class
    # structure (5-NN 0.40), at 2e-4 it kept it (0.66) with the codes on the prior (MMD^2 2x its floor).
    _rate("lr_disc", 2e-4, "discriminator"),
    _rate("lr_gen", 2e-4, "generator phase (the encoder fooling the discriminator)"),
    Setting("disc_noise", float, 0.0, "std of noise added to the discriminator's inputs", target="train.disc_noise",
            alias="noise", low=0.0, high=100.0, options=(0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0), live=True),
    # The last 20 % of the steps run at a tenth of each rate, so the adversarial game settles.
    Setting("cool_fraction", float, 0.2, "the last fraction of the epochs trains at every learning rate x "
            "cool_factor (0: none)", target="train.cool_fraction", low=0.0, high=1.0, high_open=True),
    Setting("cool_factor", float, 0.1, "the learning rates' multiplier in the cool-down",
            target="train.cool_factor", low=0.0, low_open=True, high=1.0),
    # ---- bookkeeping, not user-facing flags ----
    Setting("history_len", int, 2000, "loss-curve points a job keeps", target="train.history_len", low=10,
            high=MAX_HISTORY, cli=False),
    Setting("n_eval_codes", int, 1000, "held-out images whose codes are kept up to date",
            target="train.n_eval_codes", low=10, high=1_000_000, cli=False),
)  # fmt: skip
BY_NAME = {s.name: s for s in SETTINGS}
# The label-conditioned recipe (Fig. 4): the settings that differ from the defaults when the discriminator sees
# labels. Its per-class parts then give the codes their structure, and the large scale that helps an
# unconditioned run only makes those parts harder to reach: at the paper's unit scale with a 5x faster adversary,
# 0.77 of held-out codes lie in their own label's mixture part (0.07 with the defaults) and 0.70 on their own roll
# segment (0.10); chance is 0.10 (bench/results/recipe-sweep/, 3 seeds).
CONDITIONED: dict[str, dict[str, Any]] = {
    "mixture": {"radius": 1.4, "radial_std": 0.5, "tangential_std": 0.1, "lr_disc": 1e-3, "lr_gen": 1e-3},
    "swissroll": {"roll_radius": 3.0, "lr_disc": 1e-3, "lr_gen": 1e-3},
}
# The drawn-prior recipe (the Draw tab's, where the rates are still the defaults): a thin drawn curve needs a
# sharper discriminator than the recipe's 2e-4. On a drawn heart after 4,000 steps (bench/results/draw-settle.json,
# 3 seeds) the defaults' codes stay 4.7x as far from the drawing as a prior sample (coverage 0.70); at 2e-3 they are
# 1.9x as far (coverage 0.92), at a cost in class structure (5-NN of the codes 0.42 against 0.61).
DRAWN: dict[str, Any] = {"lr_disc": 2e-3, "lr_gen": 2e-3}
LIVE = tuple(s.name for s in SETTINGS if s.live)
# What a running job can take without a restart: the live settings, and its epoch budget (which moves its pause;
# the learning-rate schedule keeps the budget the run started with).
NO_RESTART = (*LIVE, "epochs")


def default(name: str) -> Any:
    """A setting's default (what a config field is when nobody set it)."""
    return BY_NAME[name].default


@functools.cache
def section(name: str) -> dict[str, Setting]:
    """The settings that land in one RunConfig section ("prior", "model", "train"), by field name."""
    return {s.target.split(".")[1]: s for s in SETTINGS if s.target and s.target.startswith(name + ".")}


def check_fields(obj: Any, name: str) -> None:
    """Check every field of a config section against its setting's row (None: an unset optional field)."""
    for fieldname, setting in section(name).items():
        value = getattr(obj, fieldname)
        if value is not None:
            setting.check(value)


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, names: Iterable[str], **override):
    """One argparse flag per named setting, from its row: `--name-with-dashes` (dest = the name), type, default,
    choices and help. `override` maps a name to keyword arguments that replace the row's (a budget's default
    of None). Values are checked once, by build_run_config, so a bad one gets the same message everywhere."""
    for name in names:
        s = BY_NAME[name]
        kwargs: dict[str, Any] = {"dest": s.name, "help": s.help}
        if s.kind is bool:
            kwargs |= {"action": "store_true", "default": s.default}
        else:
            kwargs |= {"type": s.kind, "default": s.default, "choices": s.choices}
            if s.default is not None and s.choices is None:
                kwargs["help"] += f" (default {s.default:g})" if s.kind is not str else f" (default {s.default})"
        parser.add_argument(s.flag, *s.old_flags, **(kwargs | override.get(name, {})))
