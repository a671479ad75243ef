"""What several tabs share: the periodic fragment, view options, projections, the scatter of one job, images."""

from __future__ import annotations

import base64
from collections.abc import Callable

import numpy as np
import streamlit as st
import torch

from aae_core import health, latent
from aae_core.data import Dataset
from aae_core.jobs import Job, JobState
from aae_core.models import AutoEncoderBase
from aae_core.settings import CATEGORICAL_KINDS
from aae_core.untrusted import markdown_literal

from .. import charts, plots
from ..pad_plane import axis_name
from ..session import Session

LIVE_EVERY_S = 1.0  # live plots refresh period while something trains
SLOW_EVERY_S = 3.0  # decoded images: a slower refresh is enough to watch them sharpen
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
OVERLAYS = ("density contours", "samples")


def periodic(body: Callable, sess: Session, every: float, *args, waiting: Callable[[], bool] = lambda: False) -> None:
    """Run `body(sess, periodic, *args)` as a fragment that refreshes every `every` s while a job trains or the
    body is `waiting` for something computed in the background (metrics), and not at all otherwise (a paused
    page costs nothing). When that ends by itself (budget reached, divergence, the metrics arrived), the body
    triggers one full rerun (`catch_up`) so the rest of the page catches up and the refresh stops."""
    live = sess.running() or waiting()
    st.fragment(body, run_every=every if live else None)(sess, live, *args)


def catch_up(was_periodic: bool, sess: Session, waiting: Callable[[], bool] = lambda: False) -> None:
    """Inside a periodic fragment: once nothing trains and nothing is awaited any more, rerun the whole page (once)."""
    if was_periodic and not sess.running() and not waiting():
        st.rerun(scope="app")


def class_names(data: Dataset) -> list[str] | None:
    return FASHION_CLASSES if data.name == "fashion" else None


def view_options(dim: int) -> tuple[str, tuple[int, int] | None]:
    """The prior overlay toggle and, above 2 latent dims, the projection (PCA or two chosen axes)."""
    cols = st.columns([2, 2, 1, 1])
    if dim == 2:
        overlay = (
            cols[0].segmented_control(
                "Prior shown as", OVERLAYS, default=OVERLAYS[0], key="overlay", bind="query-params"
            )
            or OVERLAYS[0]
        )
    else:
        overlay = OVERLAYS[1]
        cols[0].caption(f"Prior shown as samples: density contours exist only for a 2-D prior, this one is {dim}-D.")
    if dim <= 2:
        return overlay, None
    mode = (
        cols[1].segmented_control("Projection", ("PCA", "two axes"), default="PCA", key="proj", bind="query-params")
        or "PCA"
    )
    if mode == "PCA":
        return overlay, None
    i = cols[2].number_input(f"x axis: z1…z{dim}", 1, dim, 1, key="ax_x", bind="query-params") - 1
    j = cols[3].number_input(f"y axis: z1…z{dim}", 1, dim, 2, key="ax_y", bind="query-params") - 1
    return overlay, (i, j)


def project(
    codes: np.ndarray, prior_points: np.ndarray, axes: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """Codes and prior samples in the same 2-D view: as they are in 2-D, else two axes or one PCA plane for both."""
    dim = codes.shape[1]
    if dim == 2:
        return codes, prior_points, (axis_name(0), axis_name(1))
    if dim == 1:  # points on a line: a second coordinate of 0
        codes, prior_points = (np.column_stack([a[:, 0], np.zeros(len(a))]) for a in (codes, prior_points))
        return codes, prior_points, (axis_name(0), "")
    both = latent.project_2d(np.concatenate([codes, prior_points]), axes)
    names = ("PC1", "PC2") if axes is None else (axis_name(axes[0]), axis_name(axes[1]))
    return both[: len(codes)], both[len(codes) :], names


def scatter_of(
    job: Job, codes: np.ndarray | None, overlay: str, axes: tuple[int, int] | None, *, title: str, key: str = ""
) -> dict:
    """The figure of `codes` (default: the job's latest) over its prior, on the axis range of its own codes and
    prior."""
    if codes is None:
        codes = job.snapshot().codes
    prior_cfg = job.config.prior
    # Label-conditioned: each part of the prior in its class's colour (samples, not one-colour contours).
    by_label = job.config.model.n_label_classes > 0
    prior_pts, prior_labels = (
        plots.labelled_prior_samples(prior_cfg) if by_label else (plots.prior_samples(prior_cfg), None)
    )
    codes2d, prior2d, names = project(codes.astype(np.float64), prior_pts, axes)
    lim = plots.view_limit(prior2d, codes2d)
    contours = overlay == OVERLAYS[0] and prior_cfg.dim == 2 and not by_label
    fig = plots.latent_scatter(
        codes2d,
        job.eval_y,
        lim=lim,
        title=title,
        axis_names=names,
        prior_points=None if contours else prior2d,
        density=plots.prior_density(prior_cfg) if contours else None,
        class_names=class_names(job.data),
        uirevision=f"{key}{job.id}",
        prior_labels=None if contours else prior_labels,
    )
    return fig


def codes_of(model: AutoEncoderBase, x: torch.Tensor) -> np.ndarray:
    """Codes of x under a frozen model."""
    with torch.no_grad():
        return model.eval().encode(x).cpu().numpy()


def png_uri(image: np.ndarray, scale: int = 2) -> str:
    """A tiled image as a PNG data URI: no media-file URLs that can 404 between rapid reruns."""
    return "data:image/png;base64," + base64.b64encode(latent.to_png(image, scale)).decode("ascii")


def status_badge(job: Job) -> None:
    """One line on what the job is doing; a divergence or failure is an error box, never silent NaN."""
    status = job.status()
    icon = {
        JobState.RUNNING: ":green[:material/play_circle:] training",
        JobState.PAUSED: ":orange[:material/pause_circle:] paused",
        JobState.STOPPED: ":gray[:material/stop_circle:] stopped",
        JobState.DIVERGED: ":red[:material/error:] diverged",
        JobState.FAILED: ":red[:material/error:] failed",
    }[status.state]
    st.markdown(f"**{job.name}** · {icon}")
    if status.cause:  # diverged or failed, and still so once stopped
        st.error(markdown_literal(status.message))
    elif status.message:
        st.caption(markdown_literal(status.message))
    for finding in health_findings(job):  # one line each, as the divergence above
        st.warning(markdown_literal(finding.line()), icon=":material/monitor_heart:")


def health_findings(job: Job) -> list[health.Finding]:
    """What aae_core.health finds wrong with the job's training, worked out once per published set of codes (most
    refreshes only look it up)."""
    snap = job.snapshot()
    held = st.session_state.setdefault("_health", {})
    if job.id not in held or held[job.id][0] != (snap.step, snap.codes_step):
        found = health.diagnose(job.kind, snap.history, snap.codes, job.prior, job.config.train.seed)
        held[job.id] = ((snap.step, snap.codes_step), found)
    return held[job.id][1]


def hover_panel(job: Job, key: str) -> None:
    """The held-out image whose code is hovered on the chart drawn under `key`, beside its reconstruction."""
    index = charts.hovered(key)
    if index is None or index >= len(job.eval_x):
        st.caption("Hover a code on the scatter: its image and its reconstruction show here.")
        return
    step, model = job.frozen_model()
    x = job.eval_x[index : index + 1]
    shape = job.data.image_shape
    z = codes_of(model, x)
    pair = np.stack([x.cpu().numpy().reshape(1, *shape), latent.decode(model, z, shape)])
    label = "" if job.eval_y is None else f", label {markdown_literal(str(job.eval_y[index]))}"
    cols = st.columns([1, 3], vertical_alignment="center")
    cols[0].image(png_uri(latent.tile(pair), scale=3))
    cols[1].caption(
        f"Held-out image #{index}{label}: original (top) and its reconstruction (bottom), through the code "
        f"({', '.join(f'{v:.2f}' for v in z[0][:8])}) at step {step:,}."
    )


def decodable(sess: Session) -> dict[str, Job]:
    """The jobs whose decoder takes a code alone (the AAE, the VAE, the AE), by name. A categorical model's needs a
    class or cluster beside it: the page says where its figures are instead."""
    jobs = sess.jobs()
    others = [job.name for job in jobs.values() if job.kind in CATEGORICAL_KINDS]
    if others:
        st.caption(f"{', '.join(others)}: its decoder needs a class or cluster beside z (see Classes & clusters).")
    return {name: job for name, job in jobs.items() if job.kind not in CATEGORICAL_KINDS}
