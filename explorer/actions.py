"""What the buttons do to this session's jobs: start from scratch, continue, load a checkpoint.

Each action returns one line per model, which the controls show as flash messages.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aae_core.checkpoints import list_checkpoints, load_checkpoint, read_metadata
from aae_core.config import AAEError, RunConfig
from aae_core.data import Dataset
from aae_core.jobs import JobSpec

from . import session as sessions
from .session import Session
from .settings import MODEL_NAMES, UPLOAD, budget_steps, run_configs, settings_of


def matching_checkpoint(config: RunConfig, folder: Path | None = None) -> Path | None:
    """The checkpoint in `folder` (default: the shipped demos) with this run's model, prior and dataset (most
    trained first)."""
    best, best_step = None, -1
    for path, meta in list_checkpoints(folder or sessions.checkpoint_dir()):
        if isinstance(meta, str):
            continue
        try:
            cfg = RunConfig.from_dict(meta["config"])
        except AAEError:
            continue
        same = (cfg.model, cfg.prior, cfg.dataset) == (config.model, config.prior, config.dataset)
        if same and meta["step"] > best_step:
            best, best_step = path, meta["step"]
    return best


def start_jobs(sess: Session, s: Any, *, prefer_checkpoints: bool = False) -> list[str]:
    """(Re)start this session's jobs from scratch with the settings. With prefer_checkpoints, a saved or
    shipped model matching them is loaded instead (see load_into_session)."""
    data = sessions.dataset(s)
    configs = run_configs(s, data)
    if prefer_checkpoints:
        for config in configs.values():
            path = matching_checkpoint(config)
            if path is not None:
                return load_into_session(sess, path, s)
    specs = {
        name: JobSpec(config, data, max_steps=budget_steps(s.epochs, config, data)) for name, config in configs.items()
    }
    sess.registry.start_group(sess.owner, specs)
    for name in set(sess.jobs()) - set(configs):
        sess.registry.remove(sess.owner, name)
    return [f"{name}: training from scratch" for name in configs]


def continue_stopped(sess: Session, s: Any, *, paused: bool = False) -> list[str]:
    """Start stopped jobs again from their last weights (same config; the optimizers start fresh), together."""
    specs = {
        name: job.continuation(paused=paused, budget=budget_steps(s.epochs, job.config, job.data))
        for name, job in sess.jobs().items()
        if not job.alive
    }
    sess.registry.start_group(sess.owner, specs)
    return [f"{name}: continuing from step {spec.start_step:,}" for name, spec in specs.items()]


def _loaded_spec(path: Path, s: Any, data: Dataset) -> tuple[JobSpec, str]:
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


def load_into_session(sess: Session, path: Path, current: Any | None = None) -> list[str]:
    """Load a checkpoint, paused, as this session's job of its kind, and its counterparts (the other kinds with
    the same data, prior and architecture) from matching checkpoints in the same folder, else trained from
    scratch alongside. The widgets show the checkpoint's settings from the next run on."""
    config = read_metadata(path)["run_config"]
    s = settings_of(config, current or sessions.current())
    if s.dataset == UPLOAD and getattr(sessions.upload(), "name", None) != config.dataset:
        raise AAEError(f"{path.name}: trained on {config.dataset}; upload that file again first")
    name = MODEL_NAMES[config.model.kind]
    s = replace(s, vae=s.vae or name == "VAE", ae=s.ae or name == "AE")
    data = sessions.dataset(s)
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
    sessions.set_pending_settings(s)
    return [f"{n}: {done[n]}" for n in specs]
