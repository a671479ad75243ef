"""The paper's categorical AAEs (sections 4-7), live: the supervised style x digit grid, the semi-supervised test
error beside its labelled-only baseline with a confusion matrix, the clusters' decoded samples with their majority
label and purity, and the 2-D codes of cluster heads plus style. Everything is computed by aae_core."""

from __future__ import annotations

import numpy as np
import streamlit as st

from aae_core import latent
from aae_core.categorical_metrics import (
    categorical_metrics,
    cluster_grid,
    cluster_table,
    confusion,
    decode_grid,
    probabilities,
    style_grid,
)
from aae_core.categorical_training import choose_labels
from aae_core.jobs import Job
from aae_core.models import CategoricalAAE
from aae_core.settings import CATEGORICAL_KINDS

from .. import charts
from ..session import Session
from ..settings import MODEL_NAMES
from .common import SLOW_EVERY_S, catch_up, codes_of, periodic, png_uri, status_badge

N_STYLES = 8  # rows of the style x digit grid: the codes of this many held-out images
N_SAMPLES = 10  # decoded style samples per cluster


@st.cache_data(max_entries=8, show_spinner=False)
def labelled_only_error(dataset: str, seed: int, n_labels: int, _data) -> float:
    """The baseline: logistic regression on the run's own labelled images alone, its held-out error."""
    from sklearn.linear_model import LogisticRegression

    y = _data.y_train.numpy()
    chosen = choose_labels(y, n_labels, _data.n_classes, seed)
    fit = LogisticRegression(max_iter=2000).fit(_data.x_train.numpy()[chosen], y[chosen])
    return float(1 - fit.score(_data.x_test.numpy(), _data.y_test.numpy()))


def show(sess: Session) -> None:
    jobs = [job for job in sess.jobs().values() if job.kind in CATEGORICAL_KINDS]
    if not jobs:
        names = ", ".join(MODEL_NAMES[k] for k in CATEGORICAL_KINDS)
        st.info(f"Pick one of the paper's categorical models in the sidebar's Model box ({names}).")
        return
    periodic(_body, sess, SLOW_EVERY_S)


def _body(sess: Session, was_periodic: bool) -> None:
    for job in sess.jobs().values():
        if job.kind in CATEGORICAL_KINDS:
            status_badge(job)
            step, model = job.frozen_model()
            assert isinstance(model, CategoricalAAE)
            st.caption(f"drawn with the weights of step {step:,}")
            {"supervised": _supervised, "semisupervised": _semisupervised}.get(job.kind, _clusters)(job, model)
    catch_up(was_periodic, sess)


def _supervised(job: Job, model: CategoricalAAE) -> None:
    m = categorical_metrics(model, job.prior, job.data, seed=job.config.train.seed)
    cols = st.columns(2)
    cols[0].metric("requested-label accuracy", f"{m['requested_label_accuracy']:.3f}", help="decoded (z, label k) "
                   "pairs that a pixel classifier labels k; chance 0.1")  # fmt: skip
    cols[1].metric("5-NN accuracy of the style z", f"{m['style_knn_accuracy']:.3f}", help="falls towards 0.1 "
                   "when z holds style only")  # fmt: skip
    grid = style_grid(model, job.eval_x[:N_STYLES], job.data.image_shape)
    st.markdown("**Style × digit** (Fig. 7): each row the style code of one held-out image, each column a label")
    st.image(png_uri(latent.tile(grid), scale=2), width="stretch")
    if model.config.latent_dim == 2:
        spread = 3 * job.config.prior.std
        z = [st.slider(f"style z{i + 1}", -spread, spread, 0.0, key=f"cat-style-z{i + 1}") for i in range(2)]
        row = decode_grid(model, np.array([z], dtype=np.float32)).reshape(1, -1, *job.data.image_shape)
        st.markdown(f"**Every digit in the style z = ({z[0]:.2f}, {z[1]:.2f})**: move the sliders to change it")
        st.image(png_uri(latent.tile(row), scale=3), width="stretch")


def _semisupervised(job: Job, model: CategoricalAAE) -> None:
    snap, data, cfg = job.snapshot(), job.data, job.config
    assert cfg.train.n_labels is not None
    baseline = labelled_only_error(data.name, cfg.train.seed, cfg.train.n_labels, data)
    curve = np.array(snap.error_curve or [(0, np.nan)], dtype=np.float64)
    st.metric("held-out error", f"{curve[-1, 1]:.1%}", help=f"{len(job.eval_x)} held-out images, q(y|x)'s class")
    charts.plotly_chart(_error_figure(curve, baseline, cfg.train.n_labels), key=f"cat-error-{job.name}")
    if snap.predicted is None or job.eval_y is None:
        return
    true, predicted = job.eval_y, snap.predicted
    left, right = st.columns(2)
    with left:
        st.markdown("**Confusion matrix** (rows: true class, columns: predicted)")
        st.dataframe(confusion(true, predicted, data.n_classes), width="stretch")
    with right:
        st.markdown("**Codes z**, coloured by the predicted class; crosses: misclassified")
        codes = snap.codes if snap.codes is not None else codes_of(model, job.eval_x)
        charts.plotly_chart(_codes_figure(codes, predicted, true), key=f"cat-codes-{job.name}")


def _error_figure(curve: np.ndarray, baseline: float, n_labels: int) -> dict:
    steps = curve[:, 0]
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "x": steps, "y": curve[:, 1], "name": "semi-supervised AAE"},
            {"type": "scatter", "mode": "lines", "x": [steps[0], steps[-1]], "y": [baseline, baseline],
             "name": f"logistic regression on the {n_labels} labelled images alone", "line": {"dash": "dash"}},
        ],  # fmt: skip
        "layout": {"height": 300, "margin": {"l": 50, "r": 10, "t": 10, "b": 40}, "xaxis": {"title": "step"},
                   "yaxis": {"title": "held-out error", "tickformat": ".0%", "rangemode": "tozero"},
                   "legend": {"orientation": "h", "y": -0.3}},
    }  # fmt: skip


def _codes_figure(codes: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> dict:
    wrong = predicted != true
    traces = [
        {"type": "scattergl", "mode": "markers", "x": codes[sel, 0], "y": codes[sel, 1], "name": name,
         "text": [f"predicted {p}, true {t}" for p, t in zip(predicted[sel], true[sel])],
         "marker": {"color": predicted[sel], "colorscale": "Turbo", "cmin": 0, "cmax": 9, "size": size,
                    "symbol": symbol}}
        for sel, name, size, symbol in ((~wrong, "right", 4, "circle"), (wrong, "wrong", 7, "x"))
    ]  # fmt: skip
    return {"data": traces, "layout": {"height": 360, "margin": {"l": 40, "r": 10, "t": 10, "b": 30}}}


def _clusters(job: Job, model: CategoricalAAE) -> None:
    data = job.data
    if data.y_train is None:
        st.caption("This dataset has no labels: no majority label or purity to show.")
        table = None
    else:
        table = cluster_table(probabilities(model, data.x_train), data.y_train.numpy(), data.n_classes)
        m = categorical_metrics(model, job.prior, data, seed=job.config.train.seed)
        cols = st.columns(3)
        cols[0].metric("cluster error (paper's rule)", f"{m['cluster_error']:.1%}")
        cols[1].metric("cluster error (majority vote)", f"{m['cluster_error_majority']:.1%}")
        cols[2].metric("clusters used", f"{m['clusters_used']} of {model.config.n_categories}")
    if job.kind == "dimred":
        st.markdown("The **2-D codes** (cluster head + style) are the Live tab's scatter.")
    grid = cluster_grid(model, job.prior, N_SAMPLES, data.image_shape, seed=job.config.train.seed)
    st.markdown("**Clusters** (Fig. 9): row i is cluster i, style samples decoded with its one-hot y")
    left, right = st.columns([3, 2]) if table else (st.container(), None)
    left.image(png_uri(latent.tile(grid), scale=2), width="stretch")
    if right is not None and table:
        right.dataframe(
            [{"cluster": r["cluster"], "majority label": r["label"], "purity": f"{r['purity']:.0%}",
              "training images": r["images"]} for r in table],
            hide_index=True,
        )  # fmt: skip
