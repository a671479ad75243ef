"""AAE vs VAE (and, optionally, a plain autoencoder): the same data, prior and architecture side by side, with
the numbers behind the pictures."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from aae_core.metrics import METRIC_DIRECTIONS, METRIC_KEYS

from .. import charts
from ..session import Session
from .common import LIVE_EVERY_S, catch_up, hover_panel, periodic, png_uri, scatter_of, view_options
from .decoded import sample_grid

# How each metric is labelled here; which direction is better comes from aae_core.metrics.METRIC_DIRECTIONS.
# A key missing there is shown with no "better" marker.
LABELS = {
    "reconstruction_mse": "reconstruction MSE",
    "knn_accuracy": "5-NN accuracy of the codes",
    "prior_mmd": "MMD² (codes vs prior)",
    "prior_swd": "sliced Wasserstein (codes vs prior)",
    "prior_coverage": "coverage of the prior (holes lower it)",
    "prior_density": "density (1: matched, > 1: piled up)",
}
DISTANCE = {"higher": lambda v: -v, "lower": lambda v: v, "closer to 1": lambda v: abs(v - 1)}


def better(key: str, values: dict[str, float | None]) -> str:
    """Which model does better on one metric (its name, "tie", or "–" when a value is missing or the metric has no
    direction), comparing the values as the table shows them (4 significant digits)."""
    direction = METRIC_DIRECTIONS.get(key)
    shown = {name: float(f"{v:.4g}") for name, v in values.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    if direction not in DISTANCE or len(shown) < len(values) or not shown:
        return "–"
    score = {name: DISTANCE[direction](v) for name, v in shown.items()}
    best = min(score.values())
    winners = [name for name, v in score.items() if v == best]
    return winners[0] if len(winners) == 1 else "tie"


def _compared(sess: Session) -> list:
    """The AAE, the VAE and, when trained, the plain autoencoder, in that order (empty without a VAE)."""
    jobs = sess.jobs()
    if not {"AAE", "VAE"} <= set(jobs):
        return []
    return [jobs[name] for name in ("AAE", "VAE", "AE") if name in jobs]


def show(sess: Session) -> None:
    jobs = sess.jobs()
    if not _compared(sess):
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
    prior = aae.prior
    note = "" if prior.exact_density else f" For this swiss roll the VAE uses an {prior.density_note}."
    cond = (
        (
            " The AAE here is label-conditioned (its discriminator sees labels); the VAE cannot be, so it "
            "trains unconditioned on the same prior."
        )
        if aae.config.model.n_label_classes
        else ""
    )
    plain = (
        " The plain autoencoder (“Train a plain autoencoder alongside”) has no regularizer at all: it keeps "
        "the classes apart but its codes follow no prior, so its prior samples decode to garbage."
    )
    st.markdown(
        "**What to look for.** *Holes*: regions where the prior has mass but no codes land (coverage counts them). "
        "*Over-weighted modes*: codes piled up where p(z) is high, leaving its tails empty. The paper found the "
        "AAE fills the prior while the VAE leaves gaps. Note also what each needs from the prior: the AAE's "
        "discriminator only ever sees *samples* of p(z), whereas the VAE's KL term needs the *density* log p(z)."
        + note
        + cond
        + plain
    )


def _body(sess: Session, was_periodic: bool, overlay: str, axes) -> None:
    compared = _compared(sess)
    if not compared:
        return
    for col, job in zip(st.columns(len(compared)), compared):
        snap = job.snapshot()
        # Each on its own scale: one shared range shrank the narrower model's codes to a thumbnail.
        fig = scatter_of(
            job, snap.codes, overlay, axes, key="cmp", title=f"{job.name} codes (step {snap.codes_step:,})"
        )
        with col:
            charts.plotly_chart(fig, key=f"cmp-scatter-{job.name}", hover=True)
            hover_panel(job, f"cmp-scatter-{job.name}")
        step, model = job.frozen_model()
        col.image(
            png_uri(sample_grid(job, model)),
            caption=f"{job.name}: decoded prior samples (step {step:,})",
            width="stretch",
        )
    metrics_table(compared)
    catch_up(was_periodic, sess, waiting=lambda: _metrics_pending(sess))


def metrics_table(compared: list) -> None:
    """aae_core.metrics for every model, computed in the background every few seconds (never in this run), each
    prior-match value beside its floor, with the better model marked on each row."""
    results = {job.name: job.metrics() for job in compared}
    if any(r is None for r in results.values()):
        st.caption("Computing metrics…")
        return

    def fmt(v):
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"

    def cell(m: dict, k: str) -> str:
        ratio = m.get(f"{k}_ratio")
        return fmt(m.get(k)) + ("" if ratio is None else f" ({ratio:.1f}× floor)")

    floor = results["AAE"][1]
    rows = {}
    for key in METRIC_KEYS:
        values = {name: r[1].get(key) for name, r in results.items()}
        label, direction = LABELS.get(key, key), METRIC_DIRECTIONS.get(key)
        rows[label] = {
            **{name: cell(r[1], key) for name, r in results.items()},
            "floor: two prior samples": fmt(floor.get(f"{key}_floor")),
            "better": better(key, values),
            "which way": f"{direction} is better" if direction else "",
        }
    st.dataframe(pd.DataFrame.from_dict(rows, orient="index"))
    steps = ", ".join(f"{name} at step {r[0]:,}" for name, r in results.items())
    st.caption(
        f"On the held-out set ({steps}). The floor is what a perfect encoder scores: the same measure "
        "between two independent samples of the prior of this size (the mean of 5 draws). MMD² and SWD are "
        "shown as multiples of it; coverage and density of a perfect match sit near their floors, not at 1."
    )
