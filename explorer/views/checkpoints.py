"""Checkpoints (save the current models, load any saved or shipped one) and exports (codes as CSV, grids as PNG)."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from aae_core import latent
from aae_core.checkpoints import list_checkpoints, path_for, read_metadata, safe_name, validate_name
from aae_core.config import AAEError
from aae_core.jobs import Job
from aae_core.untrusted import check_output_dir, markdown_literal, one_line

from .. import actions, session
from ..messages import flash, guarded
from ..session import Session
from .common import decodable
from .decoded import manifold, sample_grid

FOLDERS = {"user": "yours", "demo": "shipped demo"}


def _folder(kind: str):
    return session.user_checkpoint_dir() if kind == "user" else session.checkpoint_dir()


def show(sess: Session) -> None:
    _saved_list(sess)
    left, right = st.columns(2)
    with left:
        _save_form(sess)
    with right:
        _exports(sess)


def _save(sess: Session) -> None:
    """Save every model of the session as `<name>-aae` / `<name>-vae` in the user folder; an existing save of
    that name (another session's, perhaps) is replaced only when asked."""
    name = st.session_state.get("ckpt_name", "").strip()
    folder = session.user_checkpoint_dir()
    try:
        validate_name(name)
        check_output_dir(folder, "checkpoint folder")
        paths = {job.name: path_for(f"{name}-{job.kind}", folder) for job in sess.jobs().values()}
        taken = [p.name for p in paths.values() if p.exists()]
        if taken and not st.session_state.get("ckpt_replace"):
            raise AAEError(f"{', '.join(taken)} already exists: pick another name, or tick “Replace”")
        for job in sess.jobs().values():
            path = job.save(paths[job.name].stem, folder)
            flash("success", f"saved {path.name} (step {read_metadata(path)['step']:,})")
    except AAEError as e:
        flash("error", str(e))
    except OSError as e:
        flash("error", f"{e.filename or folder}: cannot save ({e.strerror or e})")


def _save_form(sess: Session) -> None:
    st.subheader("Save")
    jobs = sess.jobs()
    if not jobs:
        st.caption("Nothing to save yet.")
        return
    aae = next(iter(jobs.values()))
    default = safe_name(f"{aae.config.prior.name}-{aae.config.dataset}")
    st.text_input(
        "Name",
        default,
        key="ckpt_name",
        max_chars=59,
        help="Letters, digits, '_', '-', '.'; each model is saved as <name>-aae / <name>-vae",
    )
    st.checkbox("Replace a saved model of this name", key="ckpt_replace")
    st.button("Save current models", key="save", icon=":material/save:", on_click=_save, args=(sess,))
    st.caption(
        markdown_literal(
            f"into {session.user_checkpoint_dir()} (weights + metrics + loss history; the weights "
            f"of a diverged run are its last good ones)"
        )
    )


def _rows(entries) -> pd.DataFrame:
    """One row per file: a file that cannot be read is one row saying why, never an error for the whole table."""
    rows = []
    for path, meta in entries:
        if isinstance(meta, str):
            rows.append(
                {"name": path.stem, "model": "unreadable", "prior": one_line(meta.removeprefix(f"{path}: "), 160)}
            )
            continue
        m, config = meta.get("metrics") or {}, meta["config"]  # validated by list_checkpoints

        def fmt(k: str, m: dict = m) -> float | None:
            return round(m[k], 4) if isinstance(m.get(k), (int, float)) else None

        labels = ", labels" if config["model"]["n_label_classes"] else ""
        rows.append(
            {
                "name": path.stem,
                "model": config["model"]["kind"].upper() + labels,
                "prior": f"{config['prior']['name']}, {config['prior']['dim']}-D",
                "data": config["dataset"],
                "steps": meta.get("step"),
                "recon MSE": fmt("reconstruction_mse"),
                "kNN acc": fmt("knn_accuracy"),
                "MMD²": fmt("prior_mmd"),
                "SWD": fmt("prior_swd"),
                "coverage": fmt("prior_coverage"),
            }
        )
    return pd.DataFrame(rows)


def _load(sess: Session) -> None:
    pick = st.session_state.get("ckpt_pick")
    if pick:
        kind, name = pick
        guarded(actions.load_into_session, sess, _folder(kind) / f"{name}.safetensors")


def _saved_list(sess: Session) -> None:
    loadable = []
    for kind, title in (("user", "Your saved models"), ("demo", "Shipped demo models")):
        st.subheader(title)
        entries = list_checkpoints(_folder(kind))
        if entries:
            st.dataframe(_rows(entries), hide_index=True, key=f"ckpt_table_{kind}", width="stretch")
        else:
            st.caption(
                markdown_literal(
                    f"None yet in {_folder(kind)}." if kind == "user" else f"No checkpoints in {_folder(kind)}."
                )
            )
        loadable += [(kind, p.stem) for p, meta in entries if not isinstance(meta, str)]
    if not loadable:
        return
    pick, go, _ = st.columns([3, 1, 2], vertical_alignment="bottom")
    pick.selectbox("Checkpoint", loadable, key="ckpt_pick", format_func=lambda c: f"{c[1]} ({FOLDERS[c[0]]})")
    go.button(
        "Load",
        key="load",
        on_click=_load,
        args=(sess,),
        width="stretch",
        help="Load it (paused; Train trains it further). Its counterpart VAE/AAE is loaded too when one matches.",
    )


def _codes_csv(jobs: dict[str, Job]) -> str:
    """Held-out codes of every model, one row per image: model, label, z1..zd."""
    frames = []
    for job in jobs.values():
        snap = job.snapshot()
        df = pd.DataFrame(snap.codes, columns=[f"z{i + 1}" for i in range(snap.codes.shape[1])])
        df.insert(0, "label", job.eval_y if job.eval_y is not None else -1)
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
    st.download_button(
        "Latent codes (CSV)",
        lambda: _codes_csv(sess.jobs()),
        file_name="latent_codes.csv",
        mime="text/csv",
        key="dl_codes",
        on_click="ignore",
    )
    for job in decodable(sess).values():
        for what, draw in (("samples", sample_grid), ("manifold", manifold)):
            st.download_button(
                f"{job.name} {what} grid (PNG)",
                lambda job=job, draw=draw: latent.to_png(draw(job, job.frozen_model()[1]), 3),
                file_name=f"{job.kind}-{what}.png",
                mime="image/png",
                key=f"dl_{job.name}_{what}",
                on_click="ignore",
            )
