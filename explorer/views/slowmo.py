"""Slow motion, as in GAN Lab: the AAE's phases one at a time, over the discriminator's D(z) on the latent plane,
with one sentence on what each just did (aae_core.stepping)."""

from __future__ import annotations

import streamlit as st

from aae_core import stepping
from aae_core.config import AAEError
from aae_core.jobs import Job
from aae_core.untrusted import markdown_literal

from .. import charts
from ..messages import guarded
from ..session import Session
from .common import OVERLAYS, hover_panel, scatter_of

PLAY_EVERY_S = 1.5  # one phase per tick while playing: slow enough to read the sentence
SURFACE_POINTS = 60  # D(z) is evaluated on a SURFACE_POINTS^2 grid
PLAY = "slowmo_play"
REPORT = "_slowmo"  # (job id, the last PhaseReport)


def _aae(sess: Session) -> Job | None:
    job = sess.jobs().get("AAE")
    return job if job is not None and job.kind == "aae" else None


def last_report(job: Job) -> stepping.PhaseReport | None:
    """The last phase slow motion ran on this job (none after a reset: a new job)."""
    held = st.session_state.get(REPORT)
    return held[1] if held and held[0] == job.id else None


def advance(sess: Session) -> list[str]:
    """Run the AAE's next phase; the models beside it pause, so the page shows one thing happening."""
    job = _aae(sess)
    if job is None:
        return ["Slow motion needs an AAE: start one first."]
    for other in sess.jobs().values():
        if other is not job and other.alive:
            other.pause()
    last = last_report(job)
    report = stepping.run_phase(job, stepping.next_phase(last.phase if last else None))
    st.session_state[REPORT] = (job.id, report)
    return []


def show(sess: Session) -> None:
    st.markdown("#### :material/slow_motion_video: Slow motion")
    job = _aae(sess)
    if job is None:
        st.info("Slow motion runs an AAE's phases one at a time: start an AAE first.")
        return
    if job.config.prior.dim != 2:
        st.info(
            f"Slow motion draws D(z) over the latent plane, so it needs 2-D codes (these are {job.config.prior.dim}-D)."
        )
        return
    last = last_report(job)
    upcoming = stepping.next_phase(last.phase if last else None)
    cols = st.columns([1.4, 1.4, 3], vertical_alignment="center")
    cols[0].button(
        f"Next phase: {stepping.PHASE_NAMES[upcoming]}",
        key="slowmo_next",
        icon=":material/skip_next:",
        on_click=guarded,
        args=(advance, sess),
        help="Pause, then run one phase of one training step: reconstruction, discriminator, generator, in turn",
    )
    playing = cols[1].toggle(
        "Play in slow motion", key=PLAY, help=f"One phase every {PLAY_EVERY_S:g} s, until you turn it off"
    )
    cols[2].caption(
        "Each phase takes one gradient step on a fresh minibatch. The shading is D(z), the discriminator's belief "
        "that z is a prior sample: blue where it says prior, red where it says code."
    )
    st.fragment(_view, run_every=PLAY_EVERY_S if playing else None)(sess, playing)


def _view(sess: Session, playing: bool) -> None:
    job = _aae(sess)
    if job is None:
        return
    if playing:
        try:
            advance(sess)
        except AAEError as e:
            st.error(markdown_literal(str(e)))
            return
    last = last_report(job)
    st.markdown(
        " → ".join(
            f"**:blue[{name}]**" if last and last.phase == phase else name
            for phase, name in stepping.PHASE_NAMES.items()
        )
    )
    st.info(markdown_literal(last.sentence) if last else "Press Next phase to run the reconstruction phase.")
    step, model = job.frozen_model()
    title = f"{job.name}: held-out codes over D(z), step {step:,}"
    fig = scatter_of(job, job.snapshot().codes, OVERLAYS[1], None, title=title, key="slowmo")
    lim = fig["layout"]["xaxis"]["range"][1]
    xs, d = stepping.decision_surface(model, lim, SURFACE_POINTS)
    fig["data"].insert(0, surface_trace(xs, d))
    charts.plotly_chart(fig, key="slowmo-scatter", hover=True)
    hover_panel(job, "slowmo-scatter")


def surface_trace(xs, d) -> dict:
    """D(z) as filled contours: red (0, "a code") to blue (1, "a prior sample"), 0.5 in white."""
    return {
        "type": "contour",
        "x": xs,
        "y": xs,
        "z": d,
        "zmin": 0.0,
        "zmax": 1.0,
        "colorscale": "RdBu",
        "opacity": 0.55,
        "contours": {"start": 0.1, "end": 0.9, "size": 0.1},
        "line": {"width": 0.5},
        "colorbar": {"title": {"text": "D(z)"}, "thickness": 12},
        "name": "D(z)",
        "hoverinfo": "skip",  # the pointer is for the codes: hovering one shows its image (common.hover_panel)
    }
