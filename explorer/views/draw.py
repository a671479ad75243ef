"""Draw a prior: the user draws p(z), the AAE pours its codes into it from samples alone, and the VAE, which needs
a density, gets a kernel density estimate of the drawing (approximate, and said so)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st
import torch

from aae_core.priors import DrawnPrior
from aae_core.settings import DRAWN, default
from aae_core.untrusted import markdown_literal

from .. import actions, session
from ..draw_pad import PROBLEM, draw_pad, sync
from ..messages import guarded
from ..session import Session
from .common import LIVE_EVERY_S, catch_up, periodic

TAGS = (None, *range(10))


def show(sess: Session) -> None:
    sync("draw")
    st.markdown(
        "Draw any shape: strokes, or clicks for single points. An **AAE** needs only *samples* of its prior, so it "
        "can train on the drawing itself (a place on a stroke, plus a small spread). A **VAE** needs the prior's "
        "*density* log p(z), which a drawing does not have: it gets a kernel density estimate of the drawing, an "
        "approximation that is wider than what you drew."
    )
    tag = st.selectbox(
        "Class of the next stroke",
        TAGS,
        key="draw_tag",
        format_func=lambda t: "none" if t is None else f"digit {t}",
        help="Tag every stroke with a class 0..K-1 to use label conditioning: each class then has its own strokes.",
    )
    periodic(_body, sess, LIVE_EVERY_S, tag)


def _train_on_drawing(sess: Session) -> list[str]:
    """Start the AAE (and the models alongside) on the drawing, with the sidebar's other settings; adversarial
    rates still at the recipe's become the drawn-prior recipe's (aae_core.settings.DRAWN)."""
    s = session.current()
    recipe = all(getattr(s, name) == default(name) for name in DRAWN)
    s = replace(s, prior="points", latent_dim=2, **(DRAWN if recipe else {}))
    session.set_pending_settings(s)
    return actions.start_jobs(sess, s)


def _body(sess: Session, was_periodic: bool, tag: int | None) -> None:
    # Inside the fragment: a release on the pad reruns only the fragment, so what depends on the drawing is here.
    points = st.session_state.get("points") or ""
    cols = st.columns([1, 3], vertical_alignment="center")
    if cols[0].button(
        "Train on this drawing", key="draw_train", type="primary", icon=":material/draw:", disabled=not points
    ):
        guarded(_train_on_drawing, sess)
        st.rerun(scope="app")  # the sidebar shows the drawn prior, the other tabs the new jobs
    problem = st.session_state.get(PROBLEM)
    cols[1].caption(markdown_literal(problem) if problem else "Press and drag to draw a stroke; click for a point.")
    st.caption(
        f"Training sets the adversarial rates to {DRAWN['lr_disc']:g} ({DRAWN['lr_disc'] / default('lr_disc'):g}× "
        "the recipe's) where they are still the "
        "recipe's: a thin shape needs a sharper discriminator to hold the codes on it, and the codes keep less "
        "class structure for it. Change them in the sidebar to see the difference."
    )
    jobs = sess.jobs()
    codes = {
        name: job.snapshot().codes
        for name, job in jobs.items()
        if job.config.prior.dim == 2 and job.snapshot().codes is not None
    }
    draw_pad(points, codes, tag, key="draw")
    drawn = {name: job for name, job in jobs.items() if isinstance(job.prior, DrawnPrior)}
    if drawn:
        _distances(drawn, codes)
    catch_up(was_periodic, sess)


def _distances(jobs: dict, codes: dict) -> None:
    """How far each model's codes lie from the drawing, against a prior sample of the same size."""
    with st.container(key="draw-distance"):
        for col, (name, job) in zip(st.columns(len(jobs)), jobs.items()):
            prior: DrawnPrior = job.prior
            z = torch.as_tensor(np.asarray(codes[name], dtype=np.float32))
            sample = prior.sample(len(z), generator=torch.Generator().manual_seed(0))
            mine, floor = float(prior.distance(z).mean()), float(prior.distance(sample).mean())
            col.metric(
                f"{name}: codes' mean distance to the drawing",
                f"{mine:.2f}",
                help="Mean distance from each held-out code to the nearest point of the drawing.",
            )
            col.caption(f"A prior sample's: {floor:.2f} ({mine / floor:.1f}× it) · step {job.snapshot().codes_step:,}")
        vae = next((j for j in jobs.values() if j.kind == "vae"), None)
        if vae is not None:
            st.caption(f"The VAE's density is {markdown_literal(vae.prior.density_note)}.")
