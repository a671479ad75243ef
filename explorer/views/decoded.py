"""Decoded views: images decoded from prior samples, the manifold grid (Fig. 2e), and reconstructions."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from aae_core import latent
from aae_core.jobs import Job

from ..session import Session
from .common import SLOW_EVERY_S, catch_up, codes_of, decodable, periodic, png_uri, status_badge

GRID = 10  # prior samples shown as GRID x GRID
N_RECON = 10


def sample_grid(job: Job, model) -> np.ndarray:
    """GRID x GRID images decoded from a fixed, seeded draw of the prior (the same z while training goes on)."""
    z = job.prior.sample(GRID * GRID, generator=torch.Generator().manual_seed(7)).numpy()
    return latent.tile(latent.decode(model, z.reshape(GRID, GRID, -1), job.data.image_shape))


def manifold(job: Job, model) -> np.ndarray:
    """latent.manifold_grid decoded: Gaussian percentiles, one row per component, or per roll segment."""
    n = 15 if job.prior.n_parts == 0 else 10
    return latent.tile(latent.decode(model, latent.manifold_grid(job.prior, n), job.data.image_shape))


def reconstructions(job: Job, model) -> np.ndarray:
    """Held-out originals (top row) above their reconstructions."""
    x = job.eval_x[:N_RECON]
    recon = latent.decode(model, codes_of(model, x), job.data.image_shape)
    originals = x.cpu().numpy().reshape(len(x), *job.data.image_shape)
    return latent.tile(np.stack([originals, recon]))


MANIFOLD_NOTES = {
    "gaussian": "an even grid of Gaussian percentiles over z1, z2 (Fig. 2e): each cell covers equal prior mass",
    "mixture": "one row per mixture component, walking along its long axis",
    "swissroll": "one row per roll segment, walking outwards along the roll",
}
MANIFOLD_NOTES_1D = "a row of Gaussian percentiles of z1, the only latent dimension"


def show(sess: Session) -> None:
    if not sess.jobs():
        st.info("No model yet.")
        return
    periodic(_body, sess, SLOW_EVERY_S)


def _body(sess: Session, was_periodic: bool) -> None:
    jobs = decodable(sess)
    if not jobs:
        return
    # Row by row (one set of columns per row), so each row lines up across models whatever the rows above hold
    # (a status message under one model's badge and not the other's).
    frozen = {name: job.frozen_model() for name, job in jobs.items()}

    def row():
        return zip(st.columns(len(jobs)), jobs.values())

    for col, job in row():
        with col:
            status_badge(job)
            st.caption(f"decoded with the weights of step {frozen[job.name][0]:,}")
    sections = (
        ("**Decoded prior samples**", sample_grid, 2),
        (None, manifold, 2),
        ("**Reconstructions**: held-out originals (top), decoded codes (bottom)", reconstructions, 3),
    )
    for title, draw, scale in sections:
        for col, job in row():
            with col:
                note = MANIFOLD_NOTES_1D if job.config.prior.dim == 1 else MANIFOLD_NOTES[job.config.prior.name]
                st.markdown(title or f"**Manifold**: {note}")
                st.image(png_uri(draw(job, frozen[job.name][1]), scale=scale), width="stretch")
    catch_up(was_periodic, sess)
