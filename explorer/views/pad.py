"""The latent pad (explorer/latent_pad.py): drag a point over the codes and watch both decoders follow it."""

from __future__ import annotations

import streamlit as st

from .. import plots
from ..latent_pad import latent_pad
from ..session import Session
from .common import class_names, codes_of, decodable


@st.cache_data(max_entries=4, show_spinner=False)
def _train_codes(version: str, _model, _x) -> object:
    """Codes of the training images under one frozen model version (for the pad's nearest neighbours)."""
    return codes_of(_model, _x)


def show(sess: Session) -> None:
    if not sess.jobs():
        st.info("No model yet.")
        return
    jobs = decodable(sess)
    if not jobs:
        return
    frozen = {name: job.frozen_model() for name, job in jobs.items()}
    dims = {m.config.latent_dim for _, m in frozen.values()}
    if len(dims) > 1:
        st.warning("The models have different latent dimensions; reset them with the same settings to use the pad.")
        return
    first = next(iter(jobs.values()))
    versions = {name: f"{jobs[name].id}:{step}" for name, (step, _) in frozen.items()}
    st.caption(
        "The pads use the weights of step "
        + ", ".join(f"{n} {s:,}" for n, (s, _) in frozen.items())
        + ". Pause training to explore a fixed model; the button below picks up the latest weights."
    )
    st.button("Use the latest weights", key="pad_refresh")
    models = {name: m for name, (_, m) in frozen.items()}
    x_train = first.data.x_train
    latent_pad(
        models,
        codes={name: codes_of(m, first.eval_x) for name, m in models.items()},
        labels=first.eval_y,
        prior_samples=plots.prior_samples(first.config.prior),
        image_shape=first.data.image_shape,
        version=versions,
        key="pad",
        class_names=class_names(first.data),
        train_codes={name: _train_codes(versions[name], m, x_train) for name, m in models.items()},
        train_images=x_train.numpy(),
        train_labels=None if first.data.y_train is None else first.data.y_train.numpy(),
    )
