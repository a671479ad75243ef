"""Live training: per model, counters and progress, held-out codes flowing onto the prior, and loss curves."""

from __future__ import annotations

import time

import streamlit as st

from aae_core.jobs import Job

from .. import charts, plots
from ..state import Session
from .common import LIVE_EVERY_S, SLOW_EVERY_S, catch_up, periodic, scatter_of, status_badge, view_options


def show(sess: Session) -> None:
    jobs = sess.jobs()
    if not jobs:
        st.info("No model yet: press Train, pick a preset, or load a checkpoint.")
        return
    overlay, axes = view_options(next(iter(jobs.values())).config.prior.dim)
    periodic(_body, sess, LIVE_EVERY_S, overlay, axes)


def _body(sess: Session, was_periodic: bool, overlay: str, axes) -> None:
    jobs = sess.jobs()
    for col, job in zip(st.columns(len(jobs)), jobs.values()):
        with col:
            _job_panel(job, overlay, axes)
    catch_up(was_periodic, sess)


def _job_panel(job: Job, overlay: str, axes) -> None:
    snap = job.snapshot()
    status_badge(job)
    with st.container(horizontal=True):
        st.metric("step", f"{snap.step:,}")
        st.metric("epoch", f"{snap.epoch:.1f}")
        st.metric("samples/s", f"{snap.samples_per_s:,.0f}" if job.status().state == "running" else "–")
    if job.max_steps:
        start = job.max_steps - (job.budget or job.max_steps)
        done = min(1.0, max(0.0, (snap.step - start) / max(1, job.max_steps - start)))
        st.progress(done, text=f"pauses at step {job.max_steps:,} (the epoch budget)")
    prior = job.config.prior
    title = f"{job.name}: held-out codes (step {snap.codes_step:,}) over the {prior.name} prior"
    fig, _ = scatter_of(job, snap.codes, overlay, axes, title=title, key="live")
    charts.plotly_chart(fig, key=f"live-scatter-{job.name}")
    if prior.name == "swissroll" and overlay.startswith("density") and prior.dim == 2:
        st.caption(f"Contours: {job.trainer.prior.density_note}.")
    if len(job.history()["step"]):
        charts.plotly_chart(_loss_figure(job), key=f"live-loss-{job.name}")
    else:
        st.caption("Loss curves appear after the first step.")


def _loss_figure(job: Job) -> dict:
    """The job's loss curves, rebuilt at most every SLOW_EVERY_S while it trains. Redrawing the three panels each
    second cost the browser more than both scatters; an unchanged figure costs it nothing. A pause, a step or a
    divergence (a new status) rebuilds at once."""
    key, now, state = f"_loss_figure:{job.id}", time.monotonic(), job.status().state
    built = st.session_state.get(key)
    if built is None or built[1] != state or state != "running" or now - built[0] >= SLOW_EVERY_S:
        diverged = job.snapshot().step if state == "diverged" else None
        figure = plots.loss_curves(job.history(), job.kind, diverged_at=diverged, uirevision=f"loss{job.id}")
        built = st.session_state[key] = (now, state, figure)
    return built[2]
