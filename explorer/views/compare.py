"""AAE vs VAE: the same data, prior and architecture side by side, with the numbers behind the pictures."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from aae_core.metrics import METRIC_KEYS

from .. import charts
from ..state import Session
from .common import LIVE_EVERY_S, catch_up, periodic, png_uri, scatter_of, view_options
from .decoded import sample_grid

# The one table of how to read each metric: its label and which direction is better. A key missing here is shown
# under its own name, with no "better" marker.
METRICS = {"reconstruction_mse": ("reconstruction MSE", "lower"),
           "knn_accuracy": ("5-NN accuracy of the codes", "higher"),
           "prior_mmd": ("MMD² (codes vs prior)", "lower"),
           "prior_swd": ("sliced Wasserstein (codes vs prior)", "lower"),
           "prior_coverage": ("prior coverage", "higher")}


def better(key: str, values: dict[str, float | None]) -> str:
    """Which model does better on one metric (its name, "tie", or "–" when a value is missing or the metric has no
    direction), comparing the values as the table shows them (4 decimals)."""
    direction = METRICS.get(key, (key, None))[1]
    shown = {name: round(v, 4) for name, v in values.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    if direction not in ("higher", "lower") or len(shown) < len(values) or not shown:
        return "–"
    best = (max if direction == "higher" else min)(shown.values())
    winners = [name for name, v in shown.items() if v == best]
    return winners[0] if len(winners) == 1 else "tie"


def show(sess: Session) -> None:
    jobs = sess.jobs()
    if set(jobs) != {"AAE", "VAE"}:
        st.info("Tick “Train a VAE alongside” in the sidebar (and apply) to compare an AAE and a VAE.")
        return
    _explain(jobs["AAE"], jobs["VAE"])
    overlay, axes = view_options(jobs["AAE"].config.prior.dim)
    periodic(_body, sess, LIVE_EVERY_S, overlay, axes, waiting=lambda: _metrics_pending(sess))


def _metrics_pending(sess: Session) -> bool:
    """Whether a model's metrics are still being computed (the table waits for them, so the view keeps refreshing
    even while nothing trains)."""
    return any(job.metrics() is None for job in sess.jobs().values())


def _explain(aae, vae) -> None:
    prior = aae.trainer.prior
    note = "" if prior.exact_density else f" For this swiss roll the VAE uses an {prior.density_note}."
    cond = (" The AAE here is label-conditioned (its discriminator sees labels); the VAE cannot be, so it "
            "trains unconditioned on the same prior.") if aae.config.model.n_label_classes else ""
    st.markdown(
        "**What to look for.** *Holes*: regions where the prior has mass but no codes land (coverage counts them). "
        "*Over-weighted modes*: codes piled up where p(z) is high, leaving its tails empty. The paper found the "
        "AAE fills the prior while the VAE leaves gaps. Note also what each needs from the prior: the AAE's "
        "discriminator only ever sees *samples* of p(z), whereas the VAE's KL term needs the *density* log p(z)."
        + note + cond)


def _body(sess: Session, was_periodic: bool, overlay: str, axes) -> None:
    jobs = sess.jobs()
    if set(jobs) != {"AAE", "VAE"}:
        return
    aae, vae = jobs["AAE"], jobs["VAE"]
    left, right = st.columns(2)
    for col, job in ((left, aae), (right, vae)):
        snap = job.snapshot()
        # Each on its own scale: one shared range shrank the narrower model's codes to a thumbnail.
        fig = scatter_of(job, snap.codes, overlay, axes, key="cmp", title=f"{job.name} codes (step {snap.codes_step:,})")
        with col:
            charts.plotly_chart(fig, key=f"cmp-scatter-{job.name}")
        step, model = job.frozen_model()
        col.image(png_uri(sample_grid(job, model)), caption=f"{job.name}: decoded prior samples (step {step:,})",
                  width="stretch")
    metrics_table(aae, vae)
    catch_up(was_periodic, sess, waiting=lambda: _metrics_pending(sess))


def metrics_table(aae, vae) -> None:
    """aae_core.metrics for both models, computed in the background every few seconds (never in this run), with
    the better model marked on each row."""
    results = {job.name: job.metrics() for job in (aae, vae)}
    if any(r is None for r in results.values()):
        st.caption("Computing metrics…")
        return
    fmt = lambda v: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"
    rows = {}
    for key in METRIC_KEYS:
        values = {name: r[1].get(key) for name, r in results.items()}
        label, direction = METRICS.get(key, (key, None))
        rows[label] = {**{name: fmt(v) for name, v in values.items()}, "better": better(key, values),
                       "which way": f"{direction} is better" if direction else ""}
    st.dataframe(pd.DataFrame.from_dict(rows, orient="index"))
    steps = ", ".join(f"{name} at step {r[0]:,}" for name, r in results.items())
    ref = results["AAE"][1].get("prior_coverage_reference")
    note = "" if ref is None else (f" For reference, a second sample of the prior itself scores {fmt(ref)} on "
                                   f"coverage; a model's codes can score above or below that.")
    st.caption(f"On the held-out set ({steps}).{note}")
