"""The app's settings: the schema's rows that have a URL alias, plus the two the app alone has, as one table.

No Streamlit here. A setting's widget key is its name (`n_parts`); its URL query param is its alias
(`?k=5`), so share links stay short and old links keep working. Every widget domain and every URL
check comes from the setting's row in `aae_core.settings`; every value reaches the core only through
`aae_core.config.build_run_config` (in `run_configs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, make_dataclass, replace
from typing import Any

from aae_core import drawn_prior
from aae_core.config import AAEError, RunConfig, build_run_config
from aae_core.data import BUILTINS, Dataset
from aae_core.settings import CATEGORICAL_KINDS, CONDITIONED, NO_RESTART, SETTINGS, Setting

UPLOAD = "upload"
MODEL_NAMES = {
    "aae": "AAE", "vae": "VAE", "ae": "AE", "supervised": "Supervised AAE", "semisupervised": "Semi-supervised AAE",
    "cluster": "Clustering AAE", "dimred": "2-D clusters AAE",
}  # fmt: skip
# The main model the app trains (the VAE and the plain autoencoder come alongside it, by their checkboxes).
APP_MODELS = ("aae", *CATEGORICAL_KINDS)
ALONGSIDE = (
    Setting("vae", bool, True, "train a VAE alongside, with the same prior and architecture", alias="vae"),
    Setting("ae", bool, False, "train a plain autoencoder alongside (no regularizer: the baseline)", alias="ae"),
)
ROWS = {s.name: s for s in (*SETTINGS, *ALONGSIDE) if s.alias}
# The app offers only the built-in datasets and an upload (the CLI also reads any path).
DATASETS = (*BUILTINS, UPLOAD)

Settings = make_dataclass(
    "Settings",
    [(s.name, s.kind, field(default=s.default)) for s in ROWS.values()],
    frozen=True,
    namespace={"__doc__": "Everything the sidebar sets: one field per row of ROWS, named as the row."},
)

PRESETS = {
    "Fig. 2a: AAE, Gaussian": Settings(),
    "Fig. 2b: AAE, mixture of 10 Gaussians": Settings(prior="mixture"),
    "Swiss roll": Settings(prior="swissroll"),
    "Swiss roll, label-conditioned (Fig. 4)": Settings(
        prior="swissroll", label_conditioned=True, label_fraction=0.2, **CONDITIONED["swissroll"]
    ),
    "Mixture, label-conditioned (Fig. 4)": Settings(
        prior="mixture", label_conditioned=True, label_fraction=0.2, **CONDITIONED["mixture"]
    ),
    "8-D Gaussian, σ = 5 (Appendix A)": Settings(latent_dim=8, prior_std=5.0),
    "Plain autoencoder beside them (no regularizer)": Settings(ae=True),
}


@dataclass(frozen=True)
class Failure:
    """A preset that breaks training on purpose: the health message it leads to (aae_core.health), and the fix."""

    settings: Any
    shows: str
    fix: str


# Each reproduces its message within a few hundred steps on mnist5k (digits for the VAE's collapse), and its fix
# is the recipe, which stays healthy: the measurements are in aae_core/health.py; tests/test_app_health.py drives
# each preset into its failure.
FAILURES = {
    "Adversary too fast": Failure(
        Settings(lr_disc=2e-2, lr_gen=2e-2),
        "the discriminator winning",
        "set both adversarial learning rates back to the recipe's 2e-4",
    ),
    "Prior scale mismatch": Failure(
        Settings(prior_std=0.1),
        "codes drifting off the prior",
        "set σ back to 5, near the scale an autoencoder's codes take by themselves",
    ),
    "BatchNorm in the discriminator": Failure(
        Settings(disc_batchnorm=True),
        "codes drifting off the prior",
        "untick BatchNorm in the discriminator",
    ),
    "VAE posterior collapse (digits)": Failure(
        Settings(dataset="digits", lr_recon=2e-2),
        "the VAE's posterior collapse",
        "set σ to 1 and the reconstruction rate back to 1e-3: on 8×8 images the KL term weighs more",
    ),
}


def as_dict(s: Any) -> dict[str, Any]:
    """The settings as {name: value}: what the widgets' session state holds."""
    return {f.name: getattr(s, f.name) for f in fields(s)}


# ---- widget domains ------------------------------------------------------------------------------


def allows(name: str, value: Any) -> bool:
    """Whether the app may take this value (from the URL): inside the row's domain and below its app_high, and
    for the dataset one the app offers."""
    row = ROWS[name]
    below = row.app_high is None or value <= row.app_high
    offered = {"dataset": DATASETS, "model": APP_MODELS}.get(name)
    return row.allows(value) and below and (offered is None or value in offered) and _drawing_ok(name, value)


def _drawing_ok(name: str, value: Any) -> bool:
    """Whether a `points` value is a drawing (or none): anything else is refused like any bad value."""
    if name != "points" or value == "":
        return True
    try:
        drawn_prior.decode(value)
    except AAEError:
        return False
    return True


def options(name: str, held: Any = None) -> tuple:
    """A choice widget's options, plus the value it holds when that is none of them (a loaded checkpoint's 3e-4):
    the widget shows the true value instead of snapping it to an option and pushing that to the job."""
    row = ROWS[name]
    base = {"dataset": DATASETS, "model": APP_MODELS}.get(name) or row.choices or row.options
    return base if held is None or held in base else tuple(sorted((*base, held)))


def number_range(name: str, held: Any = None) -> dict:
    """A number widget's min_value and max_value, from the row's bounds (an open bound moves in by one step),
    widened to a value it already holds."""
    row = ROWS[name]
    low = row.low + (row.step or 1) if row.low_open else row.low
    low, high = row.kind(low), row.kind(row.high if row.app_high is None else row.app_high)
    if isinstance(held, (int, float)) and not isinstance(held, bool):
        low, high = min(low, row.kind(held)), max(high, row.kind(held))
    return {"min_value": low, "max_value": high}


# ---- the URL -------------------------------------------------------------------------------------


def _text(value: Any, name: str = "") -> str:
    if name == "points" and len(value) > drawn_prior.URL_CHARS:  # a long drawing (a file's) is simplified to fit
        return drawn_prior.encode_short(drawn_prior.decode(value))
    return str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)


def query_of(s: Any) -> dict[str, str]:
    """The settings that differ from the defaults, as URL query params (an upload cannot travel in a link)."""
    d = Settings()
    return {
        row.alias: _text(getattr(s, name), name)
        for name, row in ROWS.items()
        if getattr(s, name) != getattr(d, name) and not (name == "dataset" and s.dataset == UPLOAD)
    }


def settings_from_query(params: dict[str, str]) -> tuple[dict, list[str]]:
    """Settings found in URL params, each parsed to its type and checked against its domain; returns them by
    name, and the `alias=value` pairs that were ignored."""
    found, ignored = {}, []
    for name, row in ROWS.items():
        if row.alias not in params:
            continue
        raw = params[row.alias]
        try:
            value = row.parse(raw)  # converted, and inside the row's domain
        except AAEError:
            value = None
        if value is None or not allows(name, value):
            ignored.append(f"{row.alias}={raw}")
        else:
            found[name] = value
    return found, ignored


# ---- settings <-> run configs --------------------------------------------------------------------


def run_configs(s: Any, data: Dataset) -> dict[str, RunConfig]:
    """The main model's config (an AAE or a categorical AAE), and the VAE's and the AE's when trained alongside:
    same data, prior and architecture. Only the AAE is label-conditioned: conditioning needs a discriminator."""
    core = {name: getattr(s, name) for name in ROWS if name not in ("vae", "ae")} | {"dataset": data.name}
    # No n_train: a batch larger than an upload is refused when its job starts, not while the sidebar is read.
    shape = {"input_dim": data.input_dim, "n_classes": data.n_classes}
    configs = {MODEL_NAMES[s.model]: build_run_config(**shape, **core)}
    for kind in ("vae", "ae"):
        if getattr(s, kind):
            configs[MODEL_NAMES[kind]] = build_run_config(
                **shape, **(core | {"model": kind, "label_conditioned": False, "disc_batchnorm": False})
            )
    return configs


def restart_key(config: RunConfig) -> tuple:
    """What cannot change under a running job: its config with the settings of NO_RESTART set aside."""
    neutral = {name: ROWS[name].default for name in NO_RESTART}
    return config.model, config.prior, config.dataset, replace(config.train, **neutral)


def changed_settings(old: RunConfig, new: RunConfig) -> list[str]:
    """The names of the settings that differ between two run configs and mean something in either."""
    a, b = old.settings(), new.settings()
    return [
        name
        for name, row in ROWS.items()
        if name in a
        and a[name] != b[name]
        and name not in NO_RESTART
        and (row.applies(a["prior"]) or row.applies(b["prior"]))
    ]


def settings_of(config: RunConfig, current: Any) -> Any:
    """Settings that reproduce a run config (loading a checkpoint), keeping the view's other choices: the epoch
    budget, the models alongside, and a label fraction or size the config does not pin."""
    flat = config.settings()
    keep = {"epochs", "vae", "ae"} | ({"label_fraction"} if not flat["label_conditioned"] else set())
    if flat["model"] not in APP_MODELS:  # a VAE or AE checkpoint comes alongside the main model the view has
        keep.add("model")
    if flat["size"] is None:
        keep.add("size")
    if flat["dataset"] not in BUILTINS:
        flat["dataset"] = UPLOAD
    return replace(current, **{name: flat[name] for name in ROWS if name in flat and name not in keep})


def budget_steps(epochs: float, config: RunConfig, data: Dataset) -> int:
    """Steps in `epochs` epochs: a job pauses itself after this many (the "epochs before pausing" setting)."""
    return math.ceil(epochs * data.x_train.shape[0] / config.train.batch_size)
