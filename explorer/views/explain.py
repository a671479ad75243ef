"""Explained: each model's objective written out, every term beside its live value, then slow motion (slowmo.py)."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from aae_core.jobs import Job

from ..session import Session
from . import slowmo
from .common import LIVE_EVERY_S, catch_up, periodic, status_badge

# At the adversarial game's balance D(z) = 1/2 everywhere, and the minimax value is log 1/2 + log 1/2.
BALANCE = 2 * math.log(0.5)


def show(sess: Session) -> None:
    if not sess.jobs():
        st.info("No model yet: press Train, pick a preset, or load a checkpoint.")
        return
    periodic(_body, sess, LIVE_EVERY_S)
    slowmo.show(sess)


def _body(sess: Session, was_periodic: bool) -> None:
    jobs = sess.jobs()
    for col, job in zip(st.columns(len(jobs)), jobs.values()):
        with col:
            objective(job)
    catch_up(was_periodic, sess)


def latest(history: dict[str, np.ndarray], key: str) -> float:
    """A loss's last finite value (a phase that did not run on the last step leaves NaN there)."""
    values = np.asarray(history.get(key, []), dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if len(finite) else math.nan


def _value(v: float, fmt: str = ".3f") -> str:
    return format(v, fmt) if math.isfinite(v) else "–"


def objective(job: Job) -> None:
    """The job's objective, term by term, each with its latest value."""
    status_badge(job)
    h = job.history()
    recon = latest(h, "recon")
    st.markdown("**Reconstruction**: the decoder redraws each image from its code (binary cross-entropy).")
    st.latex(r"\mathcal{L}_{\text{rec}} = \mathbb{E}_{x}\big[-\log p(x \mid z = q(x))\big]")
    st.metric("reconstruction (nats/image)", _value(recon, ".1f"))
    if job.kind == "aae":
        d_loss, g_loss, acc = latest(h, "d_loss"), latest(h, "g_loss"), latest(h, "d_acc")
        st.markdown(
            "**Regularization**: the discriminator D tells prior samples (real) from codes (fake); the encoder, as "
            "generator G, makes its codes q(z) look real."
        )
        st.latex(r"\min_G \max_D\; \mathbb{E}_{p(z)}[\log D(z)] + \mathbb{E}_{q(z)}[\log(1 - D(z))]")
        cols = st.columns(3)
        cols[0].metric(
            "minimax value",
            _value(-2 * d_loss),
            help=f"−2 × the discriminator's loss. At the balance, D(z) = ½ everywhere: {BALANCE:.3f}.",
        )
        cols[1].metric("D accuracy", _value(acc, ".0%"), help="on its last batch; ½ at the balance")
        cols[2].metric(
            "G loss −E_q[log D(z)]",
            _value(g_loss),
            help="The encoder minimises this (the usual non-saturating form); log 2 = 0.693 at the balance.",
        )
    elif job.kind == "vae":
        st.markdown("**KL term**: each code's posterior q(z|x) is pulled towards the prior p(z).")
        st.latex(
            r"\mathcal{L} = \mathbb{E}_{q(z \mid x)}\big[-\log p(x \mid z)\big] + \mathrm{KL}\big(q(z \mid x)"
            r" \,\|\, p(z)\big)"
        )
        st.metric("KL (nats/image)", _value(latest(h, "kl")))
    else:
        st.caption("A plain autoencoder: reconstruction alone, nothing pulls its codes towards a prior.")
