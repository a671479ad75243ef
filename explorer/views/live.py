"""Live training: per model, counters and progress, held-out codes flowing onto the prior, and loss curves."""

from __future__ import annotations

import time

import streamlit as st

from aae_core.jobs import Job, JobState

from .. import charts, plots
from ..session import Session
from .common import (
    LIVE_EVERY_S,
    OVERLAYS,
    SLOW_EVERY_S,
    catch_up,
    hover_panel,
    periodic,
    scatter_of,
    status_badge,
    view_options,
)


def show(sess: Session) -> None:
    jobs = sess.jobs()
    if not jobs:
        st.info("No model yet: press Train, pick a preset, or load a checkpoint.")
        return
    overlay, axes = view_options(next(iter(jobs.values())).config.prior.dim)
    smoothing = (
        st.segmented_control(
            "Loss curve smoothing (EMA weight)",
            plots.SMOOTHING,
            default=plots.SMOOTHING[0],
            key="smooth",
            bind="query-params",
            format_func=lambda w: f"{w:g}" if w else "off",
            help="An exponential moving average over the curves' points; off shows them as they came.",
        )
        or 0.0
    )
    periodic(_body, sess, LIVE_EVERY_S, overlay, axes, smoothing)


def _body(sess: Session, was_periodic: bool, overlay: str, axes, smoothing: float) -> None:
    jobs = sess.jobs()
    prior = next(iter(jobs.values())).prior
    if not prior.exact_density and overlay == OVERLAYS[0]:  # once for both panels
        st.caption(f"Contours: {prior.density_note}.")
    for col, job in zip(st.columns(len(jobs)), jobs.values()):
        with col:
            _job_panel(job, overlay, axes, smoothing)
    catch_up(was_periodic, sess)


def _job_panel(job: Job, overlay: str, axes, smoothing: float) -> None:
    snap = job.snapshot()
    status_badge(job)
    with st.container(horizontal=True):
        st.metric("step", f"{snap.step:,}")
        st.metric("epoch", f"{snap.epoch:.1f}")
        st.metric("samples/s", f"{snap.samples_per_s:,.0f}" if job.status().state == JobState.RUNNING else "–")
    if job.max_steps:
        st.progress(*budget_progress(snap.step, job.max_steps, job.budget))
    prior = job.config.prior
    title = f"{job.name}: held-out codes (step {snap.codes_step:,}) over the {prior.name} prior"
    fig = scatter_of(job, snap.codes, overlay, axes, title=title, key="live")
    charts.plotly_chart(fig, key=f"live-scatter-{job.name}", hover=True)
    hover_panel(job, f"live-scatter-{job.name}")
    if len(job.history()["step"]):
        charts.plotly_chart(_loss_figure(job, smoothing), key=f"live-loss-{job.name}")
    else:
        st.caption("Loss curves appear after the first step.")


def budget_progress(step: int, max_steps: int, budget: int | None) -> tuple[float, str]:
    """The progress bar's fraction and text for the epoch budget; past it (steps taken by hand) it says so, and
    what Train does next (another budget from there)."""
    start = max_steps - (budget or max_steps)
    if step >= max_steps:
        more = f"; Train trains {budget:,} steps more" if budget else ""
        return 1.0, f"epoch budget reached (step {max_steps:,}), now at step {step:,}{more}"
    return max(0.0, (step - start) / max(1, max_steps - start)), f"pauses at step {max_steps:,} (the epoch budget)"


def _loss_figure(job: Job, smoothing: float) -> dict:
    """The job's loss curves, rebuilt at most every SLOW_EVERY_S while it trains. Redrawing the three panels each
    second cost the browser more than both scatters; an unchanged figure costs it nothing. A pause, a step, a
    divergence (a new status) or another smoothing rebuilds at once."""
    status = job.status()
    key, now, state = f"_loss_figure:{job.id}", time.monotonic(), (status.state, smoothing)
    built = st.session_state.get(key)
    if built is None or built[1] != state or status.state != JobState.RUNNING or now - built[0] >= SLOW_EVERY_S:
        diverged = job.snapshot().step if status.cause == JobState.DIVERGED else None
        figure = plots.loss_curves(
            job.history(), job.kind, diverged_at=diverged, smoothing=smoothing, uirevision=f"loss{job.id}"
        )
        built = st.session_state[key] = (now, state, figure)
    return built[2]
