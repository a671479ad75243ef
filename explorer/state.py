"""Session and registry wiring: settings <-> widgets <-> URL, the job registry, datasets, checkpoints.

Settings live in widgets whose keys are the `Settings` field names, and in the URL: a session's first run
reads them from the query params (`settings_from_query`, checked against each widget's domain), and
every run writes the non-default ones back (`sync_url`), so a link restores a view even after a preset
or a loaded checkpoint changed the widgets in code. Every value reaches the core only through
`aae_core.config.build_run_config`.

Session lifetime (documented design):
  * One `JobRegistry` per server process, in a global `st.cache_resource`.
  * Each browser session leases an owner token, kept in the URL as `?owner=...`: a reload keeps the URL and
    re-attaches to the same jobs. A session-scoped `st.cache_resource` holds the lease; its `on_release`
    (the websocket closed) starts the registry's grace period (AAE_EXPLORER_GRACE_S, default 120 s),
    after which that session's jobs are stopped unless a reload re-attached them.
  * A token already held by another open tab is never shared: that tab gets a fresh token and its own jobs.
    "Share this view" links carry settings only, never the owner token.
  * AAE_EXPLORER_MAX_JOBS (default 4) caps the jobs training across all sessions (paused ones do not count);
    AAE_EXPLORER_CHECKPOINTS overrides the shipped demos' folder (default: the repository's checkpoints/),
    AAE_EXPLORER_USER_CHECKPOINTS the folder saves go to (default: its git-ignored user/ subfolder);
    AAE_EXPLORER_UPLOAD_MB bounds the memory all sessions' uploads may hold together (default 1024).
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import weakref
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from aae_core.checkpoints import DEFAULT_DIR, list_checkpoints, load_checkpoint, read_metadata
from aae_core.config import PRIOR_NAMES, SIZE_PRESETS, AAEError, PriorConfig, RunConfig, TrainConfig, build_run_config
from aae_core.data import BUILTINS, Dataset, load_dataset
from aae_core.jobs import DEFAULT_GRACE_S, DEFAULT_MAX_LIVE, Job, JobRegistry, JobSpec
from aae_core.untrusted import shorten

LIVE_FIELDS = ("lr_recon", "lr_disc", "lr_gen", "disc_noise")  # change while training, no restart
UPLOAD = "upload"
MAX_UPLOAD_MB = 200  # MB a browser may send at once (also server.maxUploadSize)
UPLOAD_MAX_VALUES = 60_000_000  # values one upload may unpack to: Fashion-MNIST's 70K images are 55M
UPLOAD_BUDGET_MB = 1024  # float32 bytes of uploads all sessions together may hold
BYTES_PER_VALUE = 4  # a dataset is held as float32
MODEL_NAMES = {"aae": "AAE", "vae": "VAE", "ae": "AE"}


@dataclass(frozen=True)
class Settings:
    """Everything the sidebar sets; field names are the widget keys and the URL query-param names.
    The defaults are the recipe's (aae_core.config)."""

    data: str = "mnist5k"
    prior: str = PriorConfig.name
    std: float = PriorConfig.std
    k: int = PriorConfig.n_components
    radius: float = PriorConfig.radius
    radial: float = PriorConfig.radial_std
    tangential: float = PriorConfig.tangential_std
    roll: float = PriorConfig.roll_radius
    dim: int = 2
    cond: bool = False
    labels: float = 1.0
    size: str = "explorer"
    vae: bool = True
    ae: bool = False
    batch: int = 100
    seed: int = 0
    epochs: int = int(TrainConfig.epochs)
    lr_recon: float = TrainConfig.lr_recon
    lr_disc: float = TrainConfig.lr_disc
    lr_gen: float = TrainConfig.lr_gen
    noise: float = TrainConfig.disc_noise

    @staticmethod
    def current() -> Settings:
        """The settings the widgets hold now (defaults for widgets not yet drawn)."""
        state = st.session_state
        return Settings(**{f.name: state[f.name] for f in fields(Settings) if f.name in state})

    def to_state(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2)
NOISES = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
BATCHES = (16, 32, 64, 100, 128, 256, 512)
# The values each setting's widget accepts: options, or an inclusive (low, high) range.
CHOICES = {
    "data": (*BUILTINS, UPLOAD),
    "prior": PRIOR_NAMES,
    "size": tuple(SIZE_PRESETS),
    "batch": BATCHES,
    "lr_recon": LEARNING_RATES,
    "lr_disc": LEARNING_RATES,
    "lr_gen": LEARNING_RATES,
    "noise": NOISES,
    "cond": (False, True),
    "vae": (False, True),
    "ae": (False, True),
}
RANGES = {
    "std": (0.1, 20.0),
    "k": (2, 20),
    "radius": (0.1, 30.0),
    "radial": (0.01, 10.0),
    "tangential": (0.01, 5.0),
    "roll": (0.5, 30.0),
    "dim": (1, 32),
    "labels": (0.0, 1.0),
    "seed": (0, 2**31 - 1),
    "epochs": (1, 10_000),
}

PRESETS = {
    "Fig. 2a: AAE, Gaussian": Settings(),
    "Fig. 2b: AAE, mixture of 10 Gaussians": Settings(prior="mixture"),
    "Swiss roll": Settings(prior="swissroll"),
    "Swiss roll, label-conditioned (Fig. 4)": Settings(prior="swissroll", cond=True, labels=0.2),
    "Mixture, label-conditioned (Fig. 4)": Settings(prior="mixture", cond=True, labels=0.2),
    "8-D Gaussian, σ = 5 (Appendix A)": Settings(dim=8, std=5.0),
    "Plain autoencoder beside them (no regularizer)": Settings(ae=True),
}


# ---- process-wide resources ------------------------------------------------------------------------


@st.cache_resource(on_release=lambda registry: registry.stop_all())
def registry() -> JobRegistry:
    """The server's one job registry (survives reruns and reloads; stops every job if the cache is cleared)."""
    return JobRegistry(
        max_live=int(os.environ.get("AAE_EXPLORER_MAX_JOBS", DEFAULT_MAX_LIVE)),
        grace_s=float(os.environ.get("AAE_EXPLORER_GRACE_S", DEFAULT_GRACE_S)),
    )


@st.cache_resource(show_spinner="Loading the dataset…")
def builtin_dataset(name: str, seed: int) -> Dataset:
    """A built-in dataset, loaded once per server and shared (read-only) by every job."""
    return load_dataset(name, seed=seed)


def checkpoint_dir() -> Path:
    """The shipped demo models (AAE_EXPLORER_CHECKPOINTS, default the repository's checkpoints/): presets and a
    first visit load from here only."""
    return Path(os.environ.get("AAE_EXPLORER_CHECKPOINTS", DEFAULT_DIR))


def user_checkpoint_dir() -> Path:
    """Where the app saves models (AAE_EXPLORER_USER_CHECKPOINTS, default the git-ignored `user/` under the demos
    folder): kept apart, so a save never replaces a shipped demo nor becomes every visitor's start."""
    return Path(os.environ.get("AAE_EXPLORER_USER_CHECKPOINTS", checkpoint_dir() / "user"))


# ---- this session -----------------------------------------------------------------------------------


@st.cache_resource(scope="session", on_release=lambda lease: lease.release())
def _lease():
    """This session's claim on the owner token in the URL (a fresh one if absent or held by another tab)."""
    return registry().lease(st.query_params.get("owner"))


@dataclass(frozen=True)
class Session:
    """What views need: the registry and this session's owner token."""

    registry: JobRegistry
    owner: str

    def jobs(self) -> dict[str, Job]:
        """This session's jobs, AAE first."""
        jobs = self.registry.jobs(self.owner)
        return {name: jobs[name] for name in sorted(jobs)}

    def running(self) -> bool:
        return any(j.status().state == "running" for j in self.jobs().values())


def session() -> Session:
    """Lease this session's owner token and keep it in the URL, so a reload re-attaches."""
    lease = _lease()
    if st.query_params.get("owner") != lease.owner:
        st.query_params["owner"] = lease.owner
    return Session(registry(), lease.owner)


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)


def query_of(s: Settings) -> dict[str, str]:
    """The settings that differ from the defaults, as URL query params (an upload cannot travel in a link)."""
    d = Settings()
    return {
        f.name: _text(getattr(s, f.name))
        for f in fields(s)
        if getattr(s, f.name) != getattr(d, f.name) and not (f.name == "data" and s.data == UPLOAD)
    }


def _number_in_state(key: str):
    """The number a setting's widget holds now, if it holds one (set by the URL, a preset or a loaded checkpoint)."""
    value = st.session_state.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def widget_options(key: str) -> tuple:
    """A choice widget's options, plus the value it holds when that is none of them (a loaded checkpoint's 3e-4):
    the widget shows the true value instead of snapping it to an option and pushing that to the job."""
    value = _number_in_state(key)
    return CHOICES[key] if value is None or value in CHOICES[key] else tuple(sorted((*CHOICES[key], value)))


def widget_range(key: str) -> dict:
    """A number widget's min_value and max_value, widened to the value it holds (a checkpoint's batch or seed)."""
    low, high = RANGES[key]
    value = _number_in_state(key)
    if value is not None:
        value = type(low)(value)
        low, high = min(low, value), max(high, value)
    return {"min_value": low, "max_value": high}


def _in_domain(name: str, value) -> bool:
    """Whether a URL may set this value: one of the widget's options, or for numeric options any number between
    the smallest and the largest (a loaded checkpoint's 3e-4 travels in a share link), or inside its range."""
    if name in CHOICES:
        options = CHOICES[name]
        if value in options:
            return True
        numeric = all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in options)
        return numeric and not isinstance(value, bool) and min(options) <= value <= max(options)
    low, high = RANGES.get(name, (None, None))
    return low is None or low <= value <= high


def settings_from_query(params: dict[str, str]) -> tuple[dict, list[str]]:
    """Settings found in URL params, each parsed to its field's type and checked against its widget's domain;
    returns them and the `name=value` pairs that were ignored."""
    found, ignored = {}, []
    for f in fields(Settings):
        if f.name not in params:
            continue
        raw, kind = params[f.name], type(getattr(Settings(), f.name))
        try:
            value = {"true": True, "false": False}[raw.lower()] if kind is bool else kind(raw)
        except (KeyError, ValueError):
            value = None
        if value is None or (isinstance(value, float) and not math.isfinite(value)) or not _in_domain(f.name, value):
            ignored.append(f"{f.name}={raw}")
        else:
            found[f.name] = value
    return found, ignored


def load_url_settings() -> list[str]:
    """On a session's first run, before any widget exists, put the URL's settings into the widgets' state.
    Returns the ignored `name=value` pairs."""
    if st.session_state.get("_url_read"):
        return []
    st.session_state["_url_read"] = True
    found, ignored = settings_from_query(st.query_params.to_dict())
    st.session_state.update(found)
    return ignored


def sync_url(s: Settings) -> None:
    """Write the non-default settings into the URL (and drop the others), so a reload or a copied link restores them."""
    want = query_of(s)
    for f in fields(Settings):
        have = st.query_params.get(f.name)
        if f.name in want and have != want[f.name]:
            st.query_params[f.name] = want[f.name]
        elif f.name not in want and have is not None:
            del st.query_params[f.name]


def share_link(s: Settings) -> str:
    """This view's URL (settings, tab and view options) without the owner token: whoever opens it gets the same
    view and their own jobs."""
    view = {
        k: v for k, v in st.query_params.to_dict().items() if k not in {f.name for f in fields(Settings)} | {"owner"}
    }
    query = query_of(s) | view
    base = (st.context.url or "").split("?")[0]
    return base + ("?" + urlencode(query) if query else "")


# ---- settings -> configs ----------------------------------------------------------------------------


def dataset(s: Settings) -> Dataset:
    """The dataset the settings name: a built-in, or this session's validated upload."""
    if s.data == UPLOAD:
        data = st.session_state.get("_upload")
        if data is None:
            raise AAEError("dataset: choose a file to upload (an .npz with 'x' and optional 'y', or IDX files)")
        return data
    return builtin_dataset(s.data, s.seed)


class UploadBudget:
    """Bytes of uploaded datasets alive in the server (in sessions or in their jobs): a new upload must fit in what
    is left, so no number of sessions, each with a small file that unpacks large, can exhaust the server's memory.
    A dataset's bytes count until it is garbage, whoever held it last."""

    def __init__(self, limit_bytes: int):
        self.limit = limit_bytes
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()

    def held(self) -> int:
        with self._lock:
            return sum(self._held.values())

    def values_left(self) -> int:
        """How many values the next upload may unpack to."""
        return max(0, min(UPLOAD_MAX_VALUES, (self.limit - self.held()) // BYTES_PER_VALUE))

    def hold(self, data: Dataset) -> None:
        """Count `data` until its images are garbage, or refuse it if the budget was spent meanwhile."""
        nbytes = data.x_train.nbytes + data.x_test.nbytes
        with self._lock:
            held = sum(self._held.values())
            if held + nbytes > self.limit:
                raise AAEError(
                    f"upload: the server holds {held / 2**20:.0f} MiB of uploads; {nbytes / 2**20:.0f} MiB "
                    f"more would pass its {self.limit / 2**20:.0f} MiB budget; try again later"
                )
            self._held[id(data.x_train)] = nbytes
        weakref.finalize(data.x_train, self._release, id(data.x_train))  # the tensor every copy of `data` shares

    def _release(self, key: int) -> None:
        with self._lock:
            self._held.pop(key, None)


@st.cache_resource
def upload_budget() -> UploadBudget:
    """The server's one upload budget (AAE_EXPLORER_UPLOAD_MB, default 1024)."""
    return UploadBudget(int(float(os.environ.get("AAE_EXPLORER_UPLOAD_MB", UPLOAD_BUDGET_MB)) * 2**20))


def _upload_name(name: str) -> str:
    """The uploaded file's own name (never a folder), refused if unusable, bounded in length."""
    name = Path(name).name  # never let an uploaded name choose the folder
    if not name or name.startswith(".") or len(name) > 120 or not name.isprintable():
        raise AAEError(f"upload: file name {shorten(name)} is not usable (1-120 printable characters, not hidden)")
    return name


def store_upload(files: list) -> Dataset:
    """Validate uploaded files with aae_core.data and keep the dataset in this session, within the server's upload
    budget. The bytes go to a private temp folder that is deleted as soon as the arrays are in memory; errors
    name the uploaded file, never that folder."""
    total = sum(f.size for f in files)
    if total > MAX_UPLOAD_MB * 2**20:
        raise AAEError(f"upload: {total / 2**20:.0f} MiB is more than the {MAX_UPLOAD_MB} MiB limit")
    names = [_upload_name(f.name) for f in files]
    npz = [n for n in names if n.endswith(".npz")]
    if npz and len(files) > 1:
        raise AAEError("upload: give one .npz file, or IDX files (images and labels), not both")
    budget = upload_budget()
    if budget.values_left() == 0:
        raise AAEError(
            f"upload: other sessions' uploads fill the server's {budget.limit / 2**20:.0f} MiB budget for "
            f"uploads; try again later"
        )
    with tempfile.TemporaryDirectory(prefix="aae-upload-") as tmp:
        for name, f in zip(names, files):
            (Path(tmp) / name).write_bytes(f.getvalue())
        source = Path(tmp) / (npz[0] if npz else "")
        try:
            data = load_dataset(source, seed=int(st.session_state.get("seed", 0)), max_values=budget.values_left())
        except AAEError as e:
            raise AAEError(str(e).replace(f"{tmp}/", "").replace(tmp, "upload")) from None
    n_train = data.x_train.shape[0]
    if n_train < min(BATCHES):
        raise AAEError(
            f"{names[0]}: {n_train + data.x_test.shape[0]} images leave {n_train} for training after the "
            f"held-out 20 %, fewer than the smallest batch ({min(BATCHES)}); upload at least 20"
        )
    data = replace(data, name=f"upload:{npz[0] if npz else names[0]}")
    budget.hold(data)
    st.session_state["_upload"] = data
    return data


def drop_upload(sess: Session) -> None:
    """Forget this session's upload (freeing its share of the budget) once no job of the session trains on it."""
    data = st.session_state.get("_upload")
    if data is not None and all(j.config.dataset != data.name for j in sess.jobs().values()):
        del st.session_state["_upload"]


def run_configs(s: Settings, data: Dataset) -> dict[str, RunConfig]:
    """The AAE's config (and the VAE's, when trained alongside): same data, prior and architecture.
    The VAE is never label-conditioned: conditioning needs a discriminator."""
    prior_params = {
        "std": s.std,
        "n_components": s.k,
        "radius": s.radius,
        "radial_std": s.radial,
        "tangential_std": s.tangential,
        "n_segments": s.k,
        "roll_radius": s.roll,
    }
    common = dict(
        prior=s.prior,
        dataset=data.name,
        latent_dim=s.dim,
        size=s.size,
        input_dim=data.input_dim,
        n_classes=data.n_classes,
        prior_params=prior_params,
        batch_size=s.batch,
        lr_recon=s.lr_recon,
        lr_disc=s.lr_disc,
        lr_gen=s.lr_gen,
        disc_noise=s.noise,
        seed=s.seed,
        epochs=s.epochs,
    )
    configs = {"AAE": build_run_config(model="aae", label_conditioned=s.cond, label_fraction=s.labels, **common)}
    if s.vae:
        configs["VAE"] = build_run_config(model="vae", **common)
    if s.ae:
        configs["AE"] = build_run_config(model="ae", **common)
    return configs


def restart_key(config: RunConfig) -> tuple:
    """What cannot change under a running job: everything but the live training settings and the epoch budget
    (a new budget moves the pause; the learning-rate schedule keeps the budget the run started with)."""
    live = {"lr_recon": 0.0, "lr_disc": 0.0, "lr_gen": 0.0, "disc_noise": 0.0, "epochs": 1.0}
    return config.model, config.prior, config.dataset, replace(config.train, **live)


def budget_steps(epochs: float, config: RunConfig, data: Dataset) -> int:
    """Steps in `epochs` epochs: a job pauses itself after this many (the "epochs before pausing" setting)."""
    return math.ceil(epochs * data.x_train.shape[0] / config.train.batch_size)


def settings_of(config: RunConfig, current: Settings) -> Settings:
    """Settings that reproduce a run config (used when loading a checkpoint), keeping the view's other choices."""
    p, t = config.prior, config.train
    data = config.dataset if config.dataset in BUILTINS else UPLOAD
    size = next((name for name, w in SIZE_PRESETS.items() if w == config.model.hidden), current.size)
    return replace(
        current,
        data=data,
        prior=p.name,
        std=p.std,
        k=p.n_segments if p.name == "swissroll" else p.n_components,
        radius=p.radius,
        radial=p.radial_std,
        tangential=p.tangential_std,
        roll=p.roll_radius,
        dim=p.dim,
        cond=config.model.n_label_classes > 0,
        labels=t.label_fraction if t.label_fraction is not None else current.labels,
        size=size,
        batch=t.batch_size,
        seed=t.seed,
        lr_recon=t.lr_recon,
        lr_disc=t.lr_disc,
        lr_gen=t.lr_gen,
        noise=t.disc_noise,
    )


def matching_checkpoint(config: RunConfig, folder: Path | None = None) -> Path | None:
    """The checkpoint in `folder` (default: the shipped demos) with this run's model, prior and dataset (most
    trained first)."""
    best, best_step = None, -1
    for path, meta in list_checkpoints(folder or checkpoint_dir()):
        if isinstance(meta, str):
            continue
        try:
            cfg = RunConfig.from_dict(meta["config"])
        except AAEError:
            continue
        if (cfg.model, cfg.prior, cfg.dataset) == (config.model, config.prior, config.dataset) and meta[
            "step"
        ] > best_step:
            best, best_step = path, meta["step"]
    return best


def start_jobs(sess: Session, s: Settings, *, prefer_checkpoints: bool = False) -> list[str]:
    """(Re)start this session's jobs from scratch with the settings. With prefer_checkpoints, a saved or
    shipped model matching them is loaded instead (see load_into_session). Returns one line per model."""
    data = dataset(s)
    configs = run_configs(s, data)
    if prefer_checkpoints:
        for config in configs.values():
            path = matching_checkpoint(config)
            if path is not None:
                return load_into_session(sess, path, s)
    sess.registry.start_group(
        sess.owner,
        {
            name: JobSpec(config, data, max_steps=budget_steps(s.epochs, config, data))
            for name, config in configs.items()
        },
    )
    for name in set(sess.jobs()) - set(configs):
        sess.registry.remove(sess.owner, name)
    return [f"{name}: training from scratch" for name in configs]


def continue_stopped(sess: Session, s: Settings, *, paused: bool = False) -> list[str]:
    """Start stopped jobs again from their last weights (same config; the optimizers start fresh), together."""
    specs = {}
    for name, job in sess.jobs().items():
        if not job.alive:
            t = job.trainer  # its worker has ended, so nothing else touches this model
            history = {k: [None if np.isnan(x) else float(x) for x in v] for k, v in job.history().items()}
            specs[name] = JobSpec(
                job.config,
                t.data,
                model=t.model,
                start_step=t.step_count,
                paused=paused,
                max_steps=t.step_count + budget_steps(s.epochs, job.config, t.data),
                history=history,
            )
    sess.registry.start_group(sess.owner, specs)
    return [f"{name}: continuing from step {spec.start_step:,}" for name, spec in specs.items()]


def _loaded_spec(path: Path, s: Settings, data: Dataset) -> tuple[JobSpec, str]:
    """A paused job of a checkpoint, and the line saying so."""
    ckpt = load_checkpoint(path)
    step = int(ckpt.meta["step"])
    spec = JobSpec(
        ckpt.config,
        data,
        model=ckpt.model,
        start_step=step,
        paused=True,
        max_steps=step + budget_steps(s.epochs, ckpt.config, data),
        history=ckpt.meta.get("history"),
    )
    return spec, f"loaded {path.stem} (step {step:,}), paused; Train trains it further"


def load_into_session(sess: Session, path: Path, current: Settings | None = None) -> list[str]:
    """Load a checkpoint, paused, as this session's job of its kind, and its counterpart (the other kind with
    the same data, prior and architecture) from a matching checkpoint in the same folder, else trained from
    scratch alongside.
    The widgets are set to the checkpoint's settings on the next run (see apply_pending_settings)."""
    config = read_metadata(path)["run_config"]
    s = settings_of(config, current or Settings.current())
    if s.data == UPLOAD and getattr(st.session_state.get("_upload"), "name", None) != config.dataset:
        raise AAEError(f"{path.name}: trained on {config.dataset}; upload that file again first")
    name = MODEL_NAMES[config.model.kind]
    s = replace(s, vae=s.vae or name == "VAE", ae=s.ae or name == "AE")
    data = dataset(s)
    configs = run_configs(s, data)
    specs, done = {}, {}
    specs[name], done[name] = _loaded_spec(path, s, data)
    for other, other_config in configs.items():
        if other == name:
            continue
        match = matching_checkpoint(other_config, path.parent)
        if match is not None:
            specs[other], done[other] = _loaded_spec(match, s, data)
        else:
            specs[other] = JobSpec(other_config, data, max_steps=budget_steps(s.epochs, other_config, data))
            done[other] = "training from scratch alongside, with the same prior and architecture"
    sess.registry.start_group(sess.owner, specs)
    for stale in set(sess.jobs()) - set(configs):
        sess.registry.remove(sess.owner, stale)
    st.session_state["_apply_settings"] = s.to_state()
    return [f"{n}: {done[n]}" for n in specs]


def apply_pending_settings() -> bool:
    """Set the widgets to settings an action chose (a loaded checkpoint's); call before any widget is drawn.
    Returns whether there were any."""
    pending = st.session_state.pop("_apply_settings", None)
    if pending:
        st.session_state.update(pending)
    return bool(pending)
