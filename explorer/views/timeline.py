"""Timeline: scrub through the bounded code snapshots the trainer keeps, to see how q(z) took the prior's shape."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import charts
from ..session import Session
from .common import hover_panel, scatter_of, view_options


def show(sess: Session) -> None:
    jobs = sess.jobs()
    if not jobs:
        st.info("No model yet.")
        return
    overlay, axes = view_options(next(iter(jobs.values())).config.prior.dim)
    st.fragment(_body)(sess, overlay, axes)


def _body(sess: Session, overlay: str, axes) -> None:
    # Scrubbing is by position in the run (0-100 %), not by frame index: the trainer thins old frames as the
    # run grows, so indices shift, while a position keeps meaning the same moment.
    pos = st.slider(
        "Position in the run so far (%)",
        0,
        100,
        100,
        key="timeline_pos",
        help="Frames are kept at doubling intervals, so the whole run stays in a bounded number of them.",
    )
    st.button("Refresh frames", key="timeline_refresh")
    jobs = sess.jobs()
    for col, job in zip(st.columns(len(jobs)), jobs.values()):
        frames = job.snapshot().timeline
        with col:
            if not frames:
                st.caption(f"{job.name}: no frames yet")
                continue
            steps = np.array([s for s, _ in frames])
            target = steps[0] + (steps[-1] - steps[0]) * pos / 100
            i = int(np.abs(steps - target).argmin())
            step, codes = frames[i]
            fig = scatter_of(
                job,
                codes.astype(np.float64),
                overlay,
                axes,
                key="tl",
                title=f"{job.name} codes at step {step:,} (frame {i + 1} of {len(frames)})",
            )
            charts.plotly_chart(fig, key=f"tl-scatter-{job.name}", hover=True)
            hover_panel(job, f"tl-scatter-{job.name}")  # a frame holds the same held-out images' codes, in order
