"""Decoded views: images decoded from prior samples, the manifold grid (Fig. 2e), and reconstructions."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from aae_core import latent
from aae_core.jobs import Job

from ..state import Session
from .common import SLOW_EVERY_S, catch_up, codes_of, periodic, png_uri, status_badge

GRID = 10            # prior samples shown as GRID x GRID
N_RECON = 10


def sample_grid(job: Job, model) -> np.ndarray:
    """GRID x GRID images decoded from a fixed, seeded draw of the prior (the same z while training goes on)."""
    t = job.trainer
    z = t.prior.sample(GRID * GRID, generator=torch.Generator().manual_seed(7)).numpy()
    return latent.tile(latent.decode(model, z.reshape(GRID, GRID, -1), t.data.image_shape))


def manifold(job: Job, model) -> np.ndarray:
    """latent.manifold_grid decoded: Gaussian percentiles, one row per component, or per roll segment."""
    t = job.trainer
    n = 15 if t.prior.n_classes == 0 else 10
    return latent.tile(latent.decode(model, latent.manifold_grid(t.prior, n), t.data.image_shape))


def reconstructions(job: Job, model) -> np.ndarray:
    """Held-out originals (top row) above their reconstructions."""
    t = job.trainer
    x = t.eval_x[:N_RECON]
    recon = latent.decode(model, codes_of(model, x), t.data.image_shape)
    originals = x.cpu().numpy().reshape(len(x), *t.data.image_shape)
    return latent.tile(np.stack([originals, recon]))


MANIFOLD_NOTES = {"gaussian": "an even grid of Gaussian percentiles over z1, z2 (Fig. 2e): each cell covers equal prior mass",
                  "mixture": "one row per mixture component, walking along its long axis",
                  "swissroll": "one row per roll segment, walking outwards along the roll"}
MANIFOLD_NOTES_1D = "a row of Gaussian percentiles of z1, the only latent dimension"


def show(sess: Session) -> None:
    if not sess.jobs():
        st.info("No model yet.")
        return
    periodic(_body, sess, SLOW_EVERY_S)


def _body(sess: Session, was_periodic: bool) -> None:
    jobs = sess.jobs()
    for col, job in zip(st.columns(len(jobs)), jobs.values()):
        with col:
            status_badge(job)
            step, model = job.frozen_model()
            st.caption(f"decoded with the weights of step {step:,}")
            st.markdown("**Decoded prior samples**")
            st.image(png_uri(sample_grid(job, model)), width="stretch")
            note = MANIFOLD_NOTES_1D if job.config.prior.dim == 1 else MANIFOLD_NOTES[job.config.prior.name]
            st.markdown(f"**Manifold**: {note}")
            st.image(png_uri(manifold(job, model)), width="stretch")
            st.markdown("**Reconstructions**: held-out originals (top), decoded codes (bottom)")
            st.image(png_uri(reconstructions(job, model), scale=3), width="stretch")
    catch_up(was_periodic, sess)
