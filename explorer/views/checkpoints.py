"""Checkpoints (save the current models, load any saved or shipped one) and exports (codes as CSV, grids as PNG)."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from aae_core import latent
from aae_core.checkpoints import list_checkpoints, validate_name
from aae_core.config import AAEError
from aae_core.jobs import Job

from .. import state
from ..controls import flash, guarded
from ..state import Session
from .decoded import manifold, sample_grid


def show(sess: Session) -> None:
    left, right = st.columns([3, 2])
    with left:
        _saved_list(sess)
    with right:
        _save_form(sess)
        _exports(sess)


def _save(sess: Session) -> None:
    """Save every model of the session as `<name>-aae` / `<name>-vae` in the checkpoint folder."""
    name = st.session_state.get("ckpt_name", "").strip()
    try:
        validate_name(name)
        for job in sess.jobs().values():
            path = job.save(f"{name}-{job.kind}", state.checkpoint_dir())
            flash("success", f"saved {path.name} (step {job.snapshot().step:,})")
    except AAEError as e:
        flash("error", str(e))


def _save_form(sess: Session) -> None:
    st.subheader("Save")
    jobs = sess.jobs()
    if not jobs:
        st.caption("Nothing to save yet.")
        return
    aae = next(iter(jobs.values()))
    default = f"{aae.config.prior.name}-{aae.config.dataset.replace(':', '-')}"[:50]
    st.text_input("Name", default, key="ckpt_name", max_chars=59,
                  help="Letters, digits, '_', '-', '.'; each model is saved as <name>-aae / <name>-vae")
    st.button("Save current models", key="save", icon=":material/save:", on_click=_save, args=(sess,))
    st.caption(f"into {state.checkpoint_dir()} (weights + metrics + loss history; the weights of a diverged run "
               f"are its last good ones)")


def _rows(entries) -> pd.DataFrame:
    rows = []
    for path, meta in entries:
        if isinstance(meta, str):
            rows.append({"name": path.stem, "model": "unreadable", "prior": meta})
            continue
        m, prior = meta.get("metrics") or {}, meta.get("prior", {})
        fmt = lambda k: round(m[k], 4) if isinstance(m.get(k), (int, float)) else None
        rows.append({"name": path.stem, "model": meta["kind"].upper(), "prior": prior.get("name"),
                     "latent dim": prior.get("dim"), "data": meta.get("dataset"),
                     "conditioned": bool(meta["config"]["model"]["n_label_classes"]), "steps": meta.get("step"),
                     "recon MSE": fmt("reconstruction_mse"), "kNN acc": fmt("knn_accuracy"), "MMD²": fmt("prior_mmd"),
                     "SWD": fmt("prior_swd"), "coverage": fmt("prior_coverage")})
    return pd.DataFrame(rows)


def _load(sess: Session) -> None:
    name = st.session_state.get("ckpt_pick")
    if name:
        guarded(state.load_into_session, sess, state.checkpoint_dir() / f"{name}.safetensors")


def _saved_list(sess: Session) -> None:
    st.subheader("Saved and shipped models")
    entries = list_checkpoints(state.checkpoint_dir())
    if not entries:
        st.caption(f"No checkpoints in {state.checkpoint_dir()} yet.")
        return
    st.dataframe(_rows(entries), hide_index=True, key="ckpt_table")
    loadable = [p.stem for p, meta in entries if not isinstance(meta, str)]
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    pick.selectbox("Checkpoint", loadable, key="ckpt_pick")
    go.button("Load", key="load", on_click=_load, args=(sess,), width="stretch",
              help="Load it (paused; Train trains it further). Its counterpart VAE/AAE is loaded too when one matches.")


def _codes_csv(jobs: dict[str, Job]) -> str:
    """Held-out codes of every model, one row per image: model, label, z1..zd."""
    frames = []
    for job in jobs.values():
        snap = job.snapshot()
        df = pd.DataFrame(snap.codes, columns=[f"z{i + 1}" for i in range(snap.codes.shape[1])])
        df.insert(0, "label", job.trainer.eval_y if job.trainer.eval_y is not None else -1)
        df.insert(0, "step", snap.codes_step)
        df.insert(0, "model", job.name)
        frames.append(df)
    buf = io.StringIO()
    pd.concat(frames).to_csv(buf, index=False)
    return buf.getvalue()


def _exports(sess: Session) -> None:
    st.subheader("Export")
    jobs = sess.jobs()
    if not jobs:
        return
    st.download_button("Latent codes (CSV)", lambda: _codes_csv(sess.jobs()), file_name="latent_codes.csv",
                       mime="text/csv", key="dl_codes", on_click="ignore")
    for job in jobs.values():
        for what, draw in (("samples", sample_grid), ("manifold", manifold)):
            st.download_button(f"{job.name} {what} grid (PNG)",
                               lambda job=job, draw=draw: latent.to_png(draw(job, job.frozen_model()[1]), 3),
                               file_name=f"{job.kind}-{what}.png", mime="image/png", key=f"dl_{job.name}_{what}",
                               on_click="ignore")
