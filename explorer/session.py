"""Streamlit wiring: the server's registry and datasets, this session's lease, and settings <-> widgets <-> URL.

Settings live in widgets whose keys are the settings' names, and in the URL under their aliases: a
session's first run reads them from the query params (`load_url_settings`, checked against each
setting's domain), and every run writes the non-default ones back (`sync_url`), so a link restores a view
even after a preset or a loaded checkpoint changed the widgets in code.

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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from aae_core.checkpoints import DEFAULT_DIR
from aae_core.config import AAEError
from aae_core.data import Dataset, load_dataset
from aae_core.jobs import Job, JobState
from aae_core.registry import DEFAULT_GRACE_S, DEFAULT_MAX_LIVE, JobRegistry
from aae_core.uploads import UPLOAD_BUDGET_MB, UploadBudget, load_upload

from .settings import ROWS, UPLOAD, Settings, as_dict, query_of, settings_from_query

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


@st.cache_resource
def upload_budget() -> UploadBudget:
    """The server's one upload budget (AAE_EXPLORER_UPLOAD_MB, default 1024)."""
    return UploadBudget(int(float(os.environ.get("AAE_EXPLORER_UPLOAD_MB", UPLOAD_BUDGET_MB)) * 2**20))


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
        return any(j.status().state == JobState.RUNNING for j in self.jobs().values())


def session() -> Session:
    """Lease this session's owner token and keep it in the URL, so a reload re-attaches."""
    lease = _lease()
    if st.query_params.get("owner") != lease.owner:
        st.query_params["owner"] = lease.owner
    return Session(registry(), lease.owner)


def current() -> Any:
    """The settings the widgets hold now (defaults for widgets not yet drawn)."""
    state = st.session_state
    return Settings(**{name: state[name] for name in ROWS if name in state})


def held_number(key: str) -> Any:
    """The number a setting's widget holds now, if it holds one (set by the URL, a preset or a loaded checkpoint)."""
    value = st.session_state.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# ---- the URL ------------------------------------------------------------------------------------------


def load_url_settings() -> list[str]:
    """On a session's first run, before any widget exists, put the URL's settings into the widgets' state.
    Returns the ignored `alias=value` pairs."""
    if st.session_state.get("_url_read"):
        return []
    st.session_state["_url_read"] = True
    found, ignored = settings_from_query(st.query_params.to_dict())
    st.session_state.update(found)
    return ignored


def sync_url(s: Any) -> None:
    """Write the non-default settings into the URL (and drop the others), so a reload or a copied link restores them."""
    want = query_of(s)
    for row in ROWS.values():
        have = st.query_params.get(row.alias)
        if row.alias in want and have != want[row.alias]:
            st.query_params[row.alias] = want[row.alias]
        elif row.alias not in want and have is not None:
            del st.query_params[row.alias]


def share_link(s: Any) -> str:
    """This view's URL (settings, tab and view options) without the owner token: whoever opens it gets the same
    view and their own jobs."""
    aliases = {row.alias for row in ROWS.values()} | {"owner"}
    view = {k: v for k, v in st.query_params.to_dict().items() if k not in aliases}
    query = query_of(s) | view
    base = (st.context.url or "").split("?")[0]
    return base + ("?" + urlencode(query) if query else "")


def apply_pending_settings() -> bool:
    """Set the widgets to settings an action chose (a loaded checkpoint's); call before any widget is drawn.
    Returns whether there were any."""
    pending = st.session_state.pop("_apply_settings", None)
    if pending:
        st.session_state.update(pending)
    return bool(pending)


def set_pending_settings(s: Any) -> None:
    """Have the widgets show these settings from the next run on (widgets drawn this run cannot change)."""
    st.session_state["_apply_settings"] = as_dict(s)


# ---- datasets --------------------------------------------------------------------------------------


def upload() -> Dataset | None:
    """This session's validated upload, if it has one."""
    return st.session_state.get("_upload")


def dataset(s: Any) -> Dataset:
    """The dataset the settings name: a built-in, or this session's validated upload."""
    if s.dataset == UPLOAD:
        data = upload()
        if data is None:
            raise AAEError("dataset: choose a file to upload (an .npz with 'x' and optional 'y', or IDX files)")
        return data
    return builtin_dataset(s.dataset, s.seed)


def store_upload(files: list) -> Dataset:
    """Validate uploaded files (aae_core.uploads) and keep the dataset in this session, within the server's
    upload budget."""
    pairs = [(f.name, f.getvalue()) for f in files]
    data = load_upload(pairs, seed=int(st.session_state.get("seed", 0)), budget=upload_budget())
    st.session_state["_upload"] = data
    return data


def drop_upload(sess: Session) -> None:
    """Forget this session's upload (freeing its share of the budget) once no job of the session trains on it."""
    data = upload()
    if data is not None and all(j.config.dataset != data.name for j in sess.jobs().values()):
        del st.session_state["_upload"]
